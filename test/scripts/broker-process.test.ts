// The helper that runs a broker process for `npm run dev`, the soak, the bench and the tests.
import { execFile } from 'node:child_process'
import { existsSync, readFileSync } from 'node:fs'
import t from 'tap'
import { freePort, startBrokerProcess } from '../../scripts/broker-process.js'
import { startEmulator } from '../../src/emulator/emulator.js'
import { TEST_ENV } from '../helper.js'
import { until } from '../support/until.js'

t.test('ready() rejects when the broker exits first, with its code and what it wrote to stderr', async (t) => {
  const broker = await startBrokerProcess({ env: { ...TEST_ENV, AVI_ACCOUNT_NAME: undefined } })
  await t.rejects(broker.ready(), /the broker exited \(code 1, signal null\) before .*\/readyz answered: .*AVI_ACCOUNT_NAME/s)
  t.same(await broker.stop(), [1, null], 'stop() on an exited broker resolves with its exit')
})

t.test('ready() rejects once the time is up', async (t) => {
  const dir = t.testdir({ 'policy.json': JSON.stringify({ callers: {} }) })
  const broker = await startBrokerProcess({ env: { ...TEST_ENV, POLICY_FILE: `${dir}/policy.json` } })
  t.teardown(() => broker.stop('SIGKILL'))
  await t.rejects(broker.ready({ timeoutMs: 0 }), /no 200 from http:\/\/127\.0\.0\.1:\d+\/readyz within 0 ms/)
})

t.test('on a given port, wired to the emulator and its callers: serves a token, removes its CA file', async (t) => {
  const emulator = await startEmulator()
  t.teardown(() => emulator.close())
  const policy = { callers: { 'portal-bff': { allow: [{ scope: 'video' }] } } }
  const dir = t.testdir({ 'policy.json': JSON.stringify(policy) })
  const port = await freePort()
  const broker = await startBrokerProcess({
    port,
    env: { POLICY_FILE: `${dir}/policy.json`, AUDIT_HMAC_KEY: TEST_ENV.AUDIT_HMAC_KEY, SHUTDOWN_DELAY_MS: '0' },
    emulator,
    callers: true,
    stdout: 'ignore'
  })
  t.teardown(() => broker.stop('SIGKILL'))
  await broker.ready()
  t.equal(broker.url, `http://127.0.0.1:${port}`)
  const token = await emulator.mintCallerToken('portal-bff')
  const response = await fetch(`${broker.url}/tokens/video/abc`, { headers: { authorization: `Bearer ${token}` } })
  t.equal(response.status, 200, 'an RS256 caller token from the emulator is accepted; ARM is trusted')
  t.equal(broker.output().stdout, '', 'stdout was not collected')
  const environment = readFileSync(`/proc/${broker.child.pid}/environ`, 'utf8').split('\0')
  const caFile = environment.find((entry) => entry.startsWith('NODE_EXTRA_CA_CERTS='))?.slice(20) ?? ''
  t.equal(readFileSync(caFile, 'utf8'), emulator.caCertPem, 'the broker trusts the emulator through a CA file')
  t.same(await broker.stop(), [0, null])
  t.notOk(existsSync(caFile), 'the CA file is gone once the broker has exited')
})

t.test('stop() kills a broker that is still draining after killAfterMs', async (t) => {
  const dir = t.testdir({ 'policy.json': JSON.stringify({ callers: {} }) })
  const broker = await startBrokerProcess({
    env: { ...TEST_ENV, POLICY_FILE: `${dir}/policy.json`, SHUTDOWN_DELAY_MS: '20000', SHUTDOWN_TIMEOUT_MS: '30000' }
  })
  await broker.ready()
  t.same(await broker.stop('SIGTERM', { killAfterMs: 200 }), [null, 'SIGKILL'])
  t.notOk(existsSync(`/proc/${broker.child.pid}/status`), 'no process is left')
})

t.test('inheritEnv passes this process\'s environment on, but not its HOST and PORT', async (t) => {
  const saved = { PORT: process.env.PORT, HOST: process.env.HOST }
  Object.assign(process.env, { PORT: '1', HOST: '192.0.2.1', VI_BROKER_PROCESS_TEST: 'inherited' })
  t.teardown(() => {
    delete process.env.VI_BROKER_PROCESS_TEST
    for (const [key, value] of Object.entries(saved)) {
      if (value === undefined) delete process.env[key]
      else process.env[key] = value
    }
  })
  const dir = t.testdir({ 'policy.json': JSON.stringify({ callers: {} }) })
  const broker = await startBrokerProcess({ inheritEnv: true, env: { ...TEST_ENV, POLICY_FILE: `${dir}/policy.json` } })
  t.teardown(() => broker.stop('SIGKILL'))
  await broker.ready()
  const environment = readFileSync(`/proc/${broker.child.pid}/environ`, 'utf8').split('\0')
  t.ok(environment.includes('VI_BROKER_PROCESS_TEST=inherited'))
  t.ok(environment.includes(`PORT=${broker.port}`))
  t.ok(environment.includes('HOST=127.0.0.1'))
})

t.test('the broker does not outlive the process that started it', async (t) => {
  const dir = t.testdir({ 'policy.json': JSON.stringify({ callers: {} }) })
  const helper = new URL('../../scripts/broker-process.ts', import.meta.url).href
  // A parent that starts a broker and dies of an uncaught error without stopping it.
  const parent = [
    `import { startBrokerProcess } from '${helper}'`,
    'const broker = await startBrokerProcess({ env: JSON.parse(process.env.BROKER_ENV) })',
    'await broker.ready()',
    'process.stdout.write(String(broker.child.pid))',
    "throw new Error('the parent fails')"
  ].join('\n')
  const result = await new Promise<{ code: number | null; stdout: string }>((resolve) => {
    const child = execFile(
      process.execPath,
      ['--import', 'tsx', '--input-type=module', '-e', parent],
      {
        env: {
          PATH: process.env.PATH,
          _TAPJS_PROCESSINFO_COVERAGE_: '0',
          BROKER_ENV: JSON.stringify({ ...TEST_ENV, POLICY_FILE: `${dir}/policy.json` })
        }
      },
      (_error, stdout) => resolve({ code: child.exitCode, stdout })
    )
  })
  const pid = Number(result.stdout)
  t.teardown(() => {
    if (existsSync(`/proc/${pid}`)) process.kill(pid, 'SIGKILL')
  })
  t.equal(result.code, 1, 'the parent failed')
  t.ok(pid > 0, 'after its broker was ready')
  await until(() => !existsSync(`/proc/${pid}`))
  t.notOk(existsSync(`/proc/${pid}`), 'the broker is gone')
})
