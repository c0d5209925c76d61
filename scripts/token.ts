// `npm run token -- <caller> [--version 1|2] [--role <app role>]...`: mints an Entra-shaped app-only access
// token for a caller (a BFF's client id) from the running emulator (started by `npm run dev`).
import { parseArgs } from 'node:util'

const USAGE =
  'usage: npm run token -- <caller> [--version 1|2] [--role <app role>]...\n' +
  '  for example: npm run token -- portal-bff\n' +
  '               npm run token -- reports-bff --version 1 --role Tokens.Video\n'

function fail (message: string): never {
  process.stderr.write(`${message}\n${USAGE}`)
  process.exit(2)
}

let parsed
try {
  parsed = parseArgs({
    allowPositionals: true,
    options: { version: { type: 'string', default: '2' }, role: { type: 'string', multiple: true, default: [] } }
  })
} catch (error) {
  fail((error as Error).message)
}
const [caller, ...extra] = parsed.positionals
if (caller === undefined || extra.length > 0) fail('name exactly one caller')
const { version, role: roles } = parsed.values
if (version !== '1' && version !== '2') fail(`--version is 1 or 2, not ${version}`)

const adminUrl = process.env.EMULATOR_ADMIN_URL ?? `http://127.0.0.1:${process.env.EMULATOR_PORT ?? 8081}/admin`
try {
  const response = await fetch(`${adminUrl}/caller-tokens`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ caller, version: Number(version), ...(roles.length > 0 ? { roles } : {}) })
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
