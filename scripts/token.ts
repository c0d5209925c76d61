// `npm run token -- <caller>`: mints a caller JWT from the running emulator (started by `npm run dev`).
const caller = process.argv[2]
if (caller === undefined || caller.startsWith('-')) {
  process.stderr.write('usage: npm run token -- <caller>   (for example: npm run token -- portal-bff)\n')
  process.exit(2)
}
const adminUrl = process.env.EMULATOR_ADMIN_URL ?? `http://127.0.0.1:${process.env.EMULATOR_PORT ?? 8081}/admin`
try {
  const response = await fetch(`${adminUrl}/caller-tokens`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ caller })
  })
  if (!response.ok) throw new Error(`the emulator answered ${response.status}: ${await response.text()}`)
  const { token } = (await response.json()) as { token: string }
  process.stdout.write(`${token}\n`)
} catch (error) {
  process.stderr.write(
    `Cannot mint a caller token from ${adminUrl}: ${(error as Error).message}\nIs \`npm run dev\` running?\n`
  )
  process.exit(1)
}
