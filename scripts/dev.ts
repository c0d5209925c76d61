// `npm run dev`: the bundled Azure emulator and the broker, wired together on embedded defaults.
import { spawn } from 'node:child_process'
import { randomBytes } from 'node:crypto'
import { mkdtemp, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { brokerEnvironment } from '../src/emulator/broker-environment.js'
import { startEmulator } from '../src/emulator/emulator.js'
import { waitForReady } from './wait-for-ready.js'

const SAMPLE_CALLERS = ['portal-bff', 'admin-bff', 'unlisted-bff']
const port = Number(process.env.PORT ?? 8080)
const brokerUrl = `http://127.0.0.1:${port}`

const emulator = await startEmulator({
  armPort: Number(process.env.EMULATOR_ARM_PORT ?? 8443),
  port: Number(process.env.EMULATOR_PORT ?? 8081)
})
const workDir = await mkdtemp(join(tmpdir(), 'vi-token-broker-dev-'))
const caFile = join(workDir, 'emulator-ca.pem')
await writeFile(caFile, emulator.caCertPem)

const broker = spawn(process.execPath, ['--import', 'tsx', 'src/server.ts'], {
  stdio: 'inherit',
  env: {
    ...process.env,
    PORT: String(port),
    HOST: process.env.HOST ?? '127.0.0.1',
    ...brokerEnvironment(emulator, { caFile, callers: true }),
    POLICY_FILE: process.env.POLICY_FILE ?? 'config/policy.sample.json',
    // No load balancer to drain in development: Ctrl-C stops at once.
    SHUTDOWN_DELAY_MS: process.env.SHUTDOWN_DELAY_MS ?? '0',
    AUDIT_HMAC_KEY: process.env.AUDIT_HMAC_KEY ?? randomBytes(32).toString('hex')
  }
})

async function shutdown (code: number): Promise<never> {
  broker.kill('SIGTERM')
  await emulator.close()
  process.exit(code)
}
process.once('SIGINT', () => void shutdown(0))
process.once('SIGTERM', () => void shutdown(0))
broker.once('exit', (code) => {
  process.stderr.write(`broker exited with code ${code}\n`)
  void shutdown(code ?? 1)
})

await waitForReady(`${brokerUrl}/readyz`, 30_000)
const curls = await Promise.all(
  SAMPLE_CALLERS.map(async (caller) => {
    const token = await emulator.mintCallerToken(caller)
    const url = caller === 'admin-bff' ? `${brokerUrl}/tokens/account` : `${brokerUrl}/tokens/video/abc123`
    return `  # ${caller}\n  curl -s -H "Authorization: Bearer ${token}" ${url}`
  })
)
process.stdout.write(
  [
    '',
    `vi-token-broker is running at ${brokerUrl}`,
    `Swagger UI:   ${brokerUrl}/docs`,
    `Emulator admin API: ${emulator.adminUrl} (counters: curl ${emulator.adminUrl}/counters)`,
    'Try it (caller tokens are valid for 1 hour; `npm run token -- <caller>` mints more):',
    ...curls,
    ''
  ].join('\n') + '\n'
)
