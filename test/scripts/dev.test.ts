// `npm run dev` as a developer meets it: the ports it uses, a clear message when one is taken, and readable logs.
import { once } from 'node:events'
import { createServer, type Server } from 'node:net'
import t, { type Test } from 'tap'
import { fileURLToPath } from 'node:url'
import { freePort, startBrokerProcess } from '../../scripts/broker-process.js'

const DEV = fileURLToPath(new URL('../../scripts/dev.ts', import.meta.url))
const dev = (env: Record<string, string>) =>
  startBrokerProcess({ args: ['--conditions=@vi-token-broker/source', '--import', 'tsx', DEV], env })

/** A loopback port held by another listener for the rest of the test. */
async function occupiedPort (t: Test): Promise<number> {
  const server: Server = createServer()
  server.listen(0, '127.0.0.1')
  await once(server, 'listening')
  t.teardown(() => new Promise((resolve) => server.close(resolve)))
  return (server.address() as { port: number }).port
}

for (const variable of ['PORT', 'EMULATOR_PORT', 'EMULATOR_ARM_PORT', 'BFF_PORT']) {
  t.test(`a taken ${variable} is named, without a stack trace`, async (t) => {
    const taken = await occupiedPort(t)
    const run = await dev({
      PORT: String(await freePort()),
      EMULATOR_PORT: '0',
      EMULATOR_ARM_PORT: '0',
      BFF_PORT: '0',
      [variable]: String(taken)
    })
    t.same((await run.exited)[0], 1)
    const { stderr } = run.output()
    t.match(stderr, new RegExp(`port ${taken}, for .*, is in use`))
    t.match(stderr, `${variable}=<port> npm run dev`)
    t.notMatch(stderr, /\n\s+at /, 'no stack trace')
  })
}

t.test('it prints its ports, and the broker logs readable lines', async (t) => {
  const port = await freePort()
  const run = await dev({ PORT: String(port), EMULATOR_PORT: '0', EMULATOR_ARM_PORT: '0', BFF_PORT: '0' })
  t.teardown(() => run.stop('SIGKILL'))
  const stdout = () => run.output().stdout
  // Two TypeScript processes start on a busy machine: a generous bound, and the assertions say what happened.
  for (let i = 0; i < 600 && !stdout().includes('vi-token-broker is running at'); i++) {
    await new Promise((resolve) => setTimeout(resolve, 50))
  }
  t.match(stdout(), new RegExp(`listens on 127\\.0\\.0\\.1:\\n  ${port}  the broker \\(PORT\\)\\n`))
  t.match(stdout(), /any free {2}the emulator's ARM \(HTTPS\) \(EMULATOR_ARM_PORT\)/)
  t.match(stdout(), /\[\d{2}:\d{2}:\d{2}\.\d{3}\] INFO: vi-token-broker ready/, 'a pretty line with local time')
  t.notMatch(stdout(), /"level":30/, 'no JSON lines')
  const [, bffUrl] = /Sample BFF page .*: (http:\/\/127\.0\.0\.1:\d+)/.exec(stdout()) ?? []
  t.ok(bffUrl, 'the sample page URL is printed')
  const videos = (await (await fetch(`${bffUrl}/api/videos`)).json()) as { videos: unknown[] }
  t.ok(videos.videos.length > 0, 'and the page answers there')
  const embed = await fetch(`${bffUrl}/api/videos/07ec9e38d4/embed`)
  t.equal(embed.status, 200, 'with embed URLs from the broker')
  const { player } = (await embed.json()) as { player: string }
  t.match(await (await fetch(player)).text(), /data-vi-status="ready"/, "which the emulator's widget host shows")
  t.same(await run.stop('SIGINT'), [0, null], 'Ctrl-C stops both')
})
