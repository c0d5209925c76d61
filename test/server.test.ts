// The real entry point in a child process: boot-time validation and graceful shutdown on SIGTERM.
import { writeFile } from 'node:fs/promises'
import t, { type Test } from 'tap'
import { startBrokerProcess, type BrokerProcessOptions } from '../scripts/broker-process.js'
import { startEmulator } from '../src/emulator/emulator.js'
import { TEST_ENV } from './helper.js'
import { callerToken } from './support/tokens.js'
import { until } from './support/until.js'

// Five broker processes boot here, 4-10 s each on a busy machine: more than tap's 30 s default per file.
t.setTimeout(120_000)

/** The broker from its sources on a free port, with the test variables under `env`; killed at teardown. */
async function startServer (t: Test, env: Record<string, string | undefined>, options: BrokerProcessOptions = {}) {
  const server = await startBrokerProcess({ ...options, env: { ...TEST_ENV, ...env } })
  t.teardown(() => server.stop('SIGKILL'))
  return server
}

t.test('a missing or invalid variable stops the broker, naming the variable', async (t) => {
  const missing = await startServer(t, { AVI_ACCOUNT_NAME: undefined })
  t.same((await missing.exited)[0], 1)
  t.match(missing.output().stderr, /AVI_ACCOUNT_NAME: required but not set/)

  const invalid = await startServer(t, { PORT: 'eighty' })
  t.same((await invalid.exited)[0], 1)
  t.match(invalid.output().stderr, /PORT: must be integer/)
})

t.test('an invalid policy file stops the broker, naming the file and the entry', async (t) => {
  const dir = t.testdir({ 'policy.json': JSON.stringify({ callers: { bff: { allow: [{ scope: 'galaxy' }] } } }) })
  const server = await startServer(t, { POLICY_FILE: `${dir}/policy.json` })
  t.same((await server.exited)[0], 1)
  t.match(server.output().stderr, /policy\.json.*\n.*\/callers\/bff\/allow\/0\/scope/)
})

t.test('an invalid accounts file stops the broker, naming the file and the entry', async (t) => {
  const eu = { subscriptionId: 'nope', resourceGroup: 'rg', accountName: 'vi-eu' }
  const accounts = { default: 'eu', accounts: { eu } }
  const dir = t.testdir({ 'accounts.json': JSON.stringify(accounts) })
  const server = await startServer(t, {
    ACCOUNTS_FILE: `${dir}/accounts.json`,
    AVI_SUBSCRIPTION_ID: undefined,
    AVI_RESOURCE_GROUP: undefined,
    AVI_ACCOUNT_NAME: undefined
  })
  t.same((await server.exited)[0], 1)
  t.match(server.output().stderr, /cannot start\. Accounts file .*accounts\.json.*\n.*\/accounts\/eu\/subscriptionId/)
})

t.test('it starts, reports ready, and exits 0 on SIGTERM', async (t) => {
  const dir = t.testdir({ 'policy.json': JSON.stringify({ callers: {} }) })
  const server = await startServer(t, { POLICY_FILE: `${dir}/policy.json` })
  await server.ready()
  const url = server.url
  t.equal((await fetch(`${url}/readyz`)).status, 200)
  server.child.kill('SIGTERM')
  t.same(await server.exited, [0, null])
  t.match(server.output().stdout, /"msg":"shutting down"/)
})

t.test('SIGTERM under load: readiness 503 at once, Connection: close, no failed request, exit 0', async (t) => {
  const emulator = await startEmulator()
  t.teardown(() => emulator.close())
  const policy = {
    rateLimit: { max: 100_000, timeWindow: 60_000 },
    callers: { 'portal-bff': { allow: [{ scope: 'video' }] } }
  }
  const dir = t.testdir({ 'policy.json': JSON.stringify(policy) })
  const server = await startServer(
    t,
    { POLICY_FILE: `${dir}/policy.json`, SHUTDOWN_DELAY_MS: '1500', SHUTDOWN_TIMEOUT_MS: '6000' },
    { emulator }
  )
  await server.ready()
  const url = server.url
  const token = await callerToken('portal-bff')
  const results: Array<{ status: number; connection: string | null } | Error> = []
  const request = (id: string) =>
    fetch(`${url}/tokens/video/${id}`, { headers: { authorization: `Bearer ${token}` } }).then(
      async (response) => {
        await response.arrayBuffer()
        results.push({ status: response.status, connection: response.headers.get('connection') })
      },
      (error: Error) => results.push(error)
    )
  const state = { stop: false }
  let n = 0
  // Like a load balancer, the load stops sending new requests a little after readiness fails.
  const load = (async () => {
    while (!state.stop) await Promise.all(Array.from({ length: 8 }, () => request(`load${n++ % 20}`)))
  })()
  await new Promise((resolve) => setTimeout(resolve, 300))
  server.child.kill('SIGTERM')
  await new Promise((resolve) => setTimeout(resolve, 100))
  t.equal((await fetch(`${url}/readyz`)).status, 503, 'readiness fails at once')
  emulator.setFault('arm', { latencyMs: 1_000 })
  const inFlight = request('slow-in-flight')
  await new Promise((resolve) => setTimeout(resolve, 900))
  state.stop = true
  await load
  await inFlight
  const [code] = await server.exited
  t.equal(code, 0, 'exit 0 within SHUTDOWN_TIMEOUT_MS')
  const failures = results.filter((r) => r instanceof Error || r.status !== 200)
  t.same(failures, [], `0 of ${results.length} requests failed`)
  t.ok(results.length > 20)
  t.ok(
    results.some((r) => !(r instanceof Error) && r.connection === 'close'),
    'responses during the drain say Connection: close'
  )
  t.match(server.output().stdout, /"msg":"shut down"/)
})

t.test('SIGHUP reloads the policy; an invalid policy is rejected and the old one kept', async (t) => {
  const dir = t.testdir({ 'policy.json': JSON.stringify({ callers: {} }) })
  const server = await startServer(t, { POLICY_FILE: `${dir}/policy.json`, ARM_TIMEOUT_MS: '500' })
  await server.ready()
  const url = server.url
  const token = await callerToken('new-bff')
  const status = async () =>
    (await fetch(`${url}/tokens/video/abc`, { headers: { authorization: `Bearer ${token}` } })).status
  t.equal(await status(), 403, 'unknown to the first policy')

  await writeFile(`${dir}/policy.json`, '{ not json')
  server.child.kill('SIGHUP')
  await until(() => /"reason":"SIGHUP".*new policy rejected/.test(server.output().stdout))
  t.match(server.output().stdout, /"reason":"SIGHUP","file":"[^"]*policy\.json","problem":"Policy file .* is not valid JSON( \(at line \d+, column \d+\))?"/)
  t.equal(await status(), 403, 'the old policy stays in force')

  await writeFile(`${dir}/policy.json`, JSON.stringify({ callers: { 'new-bff': { allow: [{ scope: 'video' }] } } }))
  server.child.kill('SIGHUP')
  await until(() => /policy reloaded/.test(server.output().stdout))
  // Allowed now, so the request goes on to mint (and fails for want of an identity endpoint here).
  t.not(await status(), 403, 'the new policy is in force')
  t.equal((await fetch(`${url}/readyz`)).status, 200, 'SIGHUP did not start a shutdown')
  server.child.kill('SIGTERM')
  t.same((await server.exited)[0], 0)
})
