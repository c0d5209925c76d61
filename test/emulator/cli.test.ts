import { spawn } from 'node:child_process'
import { once } from 'node:events'
import { mkdtemp, readFile, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { createInterface } from 'node:readline'
import { fileURLToPath } from 'node:url'
import t from 'tap'
import { send } from './fixtures/helpers.js'

const mainScript = fileURLToPath(new URL('../../src/emulator/main.ts', import.meta.url))

function startCli (env: Record<string, string>) {
  const child = spawn(process.execPath, ['--import', 'tsx', mainScript], {
    env: {
      ...process.env,
      // Under tap, record only main.ts's coverage in the child: it compiles with tsx, the tests with
      // tap's loader, and coverage of two different compilations of one file cannot be merged.
      _TAPJS_PROCESSINFO_COV_FILES_: mainScript,
      EMULATOR_ARM_PORT: '0',
      EMULATOR_PORT: '0',
      ...env
    },
    stdio: ['ignore', 'pipe', 'pipe']
  })
  let stderr = ''
  child.stderr.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk))
  const exit = once(child, 'exit').then(([code, signal]) => ({
    code: code as number | null,
    signal: signal as string | null,
    stderr
  }))
  return { child, exit }
}

async function readyLine (child: ReturnType<typeof spawn>): Promise<Record<string, string>> {
  const lines = createInterface({ input: child.stdout! })[Symbol.asyncIterator]()
  const first = await lines.next()
  if (first.done === true) throw new Error('the emulator exited before it was ready')
  try {
    return JSON.parse(first.value)
  } finally {
    // What leaving a for await loop early does: stop listening for lines.
    await lines.return?.()
  }
}

t.test('prints a ready line, writes the CA file and exits 0 on SIGTERM', async (t) => {
  const directory = await mkdtemp(join(tmpdir(), 'emulator-cli-'))
  t.teardown(() => rm(directory, { recursive: true, force: true }))
  const caFile = join(directory, 'ca.pem')
  const { child, exit } = startCli({
    EMULATOR_CA_FILE: caFile,
    EMULATOR_CERT_HOSTS: 'emulator, broker-emulator',
    EMULATOR_LOG_LEVEL: 'warn'
  })
  t.teardown(() => child.kill('SIGKILL'))

  const ready = await readyLine(child)
  t.same(Object.keys(ready), [
    'event',
    'armEndpoint',
    'identityEndpoint',
    'identityHeader',
    'jwksUri',
    'jwksHttpsUri',
    'issuer',
    'audience',
    'adminUrl',
    'tenantId',
    'authorityHost',
    'brokerClientId',
    'brokerApplicationIdUri',
    'v1Issuer'
  ])
  t.equal(ready.event, 'emulator-ready')
  t.match(ready.armEndpoint, /^https:\/\/127\.0\.0\.1:\d+$/)
  t.equal(ready.issuer, `${ready.authorityHost}/${ready.tenantId}/v2.0`)
  t.equal(ready.audience, ready.brokerClientId)
  t.equal(ready.brokerApplicationIdUri, 'api://vi-token-broker')

  const ca = await readFile(caFile, 'utf8')
  t.match(ca, /^-----BEGIN CERTIFICATE-----/)
  const identity = await send(
    `${ready.identityEndpoint}?api-version=2019-08-01&resource=https://management.azure.com`,
    {
      headers: { 'x-identity-header': ready.identityHeader! }
    }
  )
  const answer = await send(
    `${ready.armEndpoint}/subscriptions/b04775c3-63fa-40f3-9430-139d2e5522d3` +
      '/resourceGroups/contosto-azurevideoindexer-rg' +
      '/providers/Microsoft.VideoIndexer/accounts/contosto-azurevideoindexer?api-version=2025-04-01',
    {
      headers: { authorization: `Bearer ${identity.json().access_token}` },
      ca
    }
  )
  t.equal(answer.status, 200, 'the written CA trusts the ARM endpoint')
  t.equal((await send(`${ready.adminUrl}/counters`)).json().arm.accountsGet, 1)

  child.kill('SIGTERM')
  const { code, signal } = await exit
  t.equal(code, 0)
  t.equal(signal, null)
})

t.test('SIGINT also shuts down cleanly', async (t) => {
  const { child, exit } = startCli({ EMULATOR_LOG_LEVEL: 'info' })
  t.teardown(() => child.kill('SIGKILL'))
  await readyLine(child)
  child.kill('SIGINT')
  const { code, stderr } = await exit
  t.equal(code, 0)
  t.match(stderr, /"signal":"SIGINT"/, 'logs go to stderr')
})

t.test('a bad environment exits 1 and names the variable', async (t) => {
  const { exit } = startCli({ EMULATOR_ARM_PORT: 'https' })
  const { code, stderr } = await exit
  t.equal(code, 1)
  t.match(stderr, /EMULATOR_ARM_PORT/)
})

t.test('an unwritable CA file exits 1 after closing the servers', async (t) => {
  const { exit } = startCli({ EMULATOR_CA_FILE: join(tmpdir(), 'no-such-directory', 'ca.pem') })
  const { code, stderr } = await exit
  t.equal(code, 1)
  t.match(stderr, /ENOENT/)
})
