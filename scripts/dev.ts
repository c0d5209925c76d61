// `npm run dev`: the bundled Azure emulator and the broker, wired together on embedded defaults, and the sample BFF
// page (examples/bff) calling the broker through the client.
import { randomBytes } from 'node:crypto'
import { createBrokerClient } from '@vi-token-broker/client'
import { buildBff, SAMPLE_VIDEOS } from '../examples/bff/src/app.js'
import { startEmulator } from '../src/emulator/emulator.js'
import { startBrokerProcess } from './broker-process.js'
import { type DevPort, describePorts, devPorts, portTakenMessage, takenPort } from './dev-ports.js'

const SAMPLE_CALLERS = ['portal-bff', 'admin-bff', 'unlisted-bff']
const ports = devPorts(process.env)
const [brokerPort, emulatorPort, armPort, bffPort] = ports as [DevPort, DevPort, DevPort, DevPort]

// A port in use is a message naming the variable to change, not a stack trace.
const taken = await takenPort(ports, '127.0.0.1')
if (taken) {
  process.stderr.write(portTakenMessage(taken))
  process.exit(1)
}
process.stdout.write(`npm run dev listens on 127.0.0.1:\n${describePorts(ports)}\n`)
const emulator = await startEmulator({ armPort: armPort.port, port: emulatorPort.port })
const broker = await startBrokerProcess({
  port: brokerPort.port,
  emulator,
  callers: true,
  inheritEnv: true,
  env: {
    HOST: process.env.HOST ?? '127.0.0.1',
    // Readable lines here; production output stays JSON.
    LOG_FORMAT: process.env.LOG_FORMAT ?? 'pretty',
    POLICY_FILE: process.env.POLICY_FILE ?? 'config/policy.sample.json',
    // No load balancer to drain in development: Ctrl-C stops at once.
    SHUTDOWN_DELAY_MS: process.env.SHUTDOWN_DELAY_MS ?? '0',
    AUDIT_HMAC_KEY: process.env.AUDIT_HMAC_KEY ?? randomBytes(32).toString('hex')
  },
  stdout: 'inherit',
  stderr: 'inherit'
})

// The sample BFF is the portal-bff caller; its JWT is minted again when the broker refuses it (after an hour).
let bffJwt: Promise<string> | undefined
const client = createBrokerClient({
  baseUrl: broker.url,
  credential: ({ forceRefresh }) => {
    if (forceRefresh || !bffJwt) bffJwt = emulator.mintCallerToken('portal-bff')
    return bffJwt
  }
})
const bff = await buildBff({ broker: client, videos: SAMPLE_VIDEOS })
let stopping = false
async function shutdown (code: number): Promise<void> {
  if (stopping) return
  stopping = true
  await bff.close()
  await broker.stop()
  await emulator.close()
  process.exit(code)
}
process.once('SIGINT', () => void shutdown(0))
process.once('SIGTERM', () => void shutdown(0))
void broker.exited.then(([code]) => {
  if (stopping) return
  process.stderr.write(`broker exited with code ${code}\n`)
  void shutdown(code ?? 1)
})

await broker.ready()
const bffUrl = await bff.listen({ host: '127.0.0.1', port: bffPort.port })
const curls = await Promise.all(
  SAMPLE_CALLERS.map(async (caller) => {
    const token = await emulator.mintCallerToken(caller)
    const path = caller === 'admin-bff' ? '/tokens/account' : '/tokens/video/abc123'
    return `  # ${caller}\n  curl -s -H "Authorization: Bearer ${token}" ${broker.url}${path}`
  })
)
process.stdout.write(
  [
    '',
    `vi-token-broker is running at ${broker.url}`,
    `Swagger UI:   ${broker.url}/docs`,
    `Sample BFF page (player and insights of sample videos): ${bffUrl}`,
    `Emulator admin API: ${emulator.adminUrl} (counters: curl ${emulator.adminUrl}/counters)`,
    `Widget host (VI_WEB_BASE_URL): ${emulator.webBaseUrl}; open a video token's embed.player URL in a browser`,
    'Try it (caller tokens are valid for 1 hour; `npm run token -- <caller>` mints more):',
    ...curls,
    ''
  ].join('\n') + '\n'
)
