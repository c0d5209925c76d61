// What npm start and the image run: the one-file bundle from scripts/bundle.ts, built here from the
// current sources and run as a child process against the emulator.
import { execFile } from 'node:child_process'
import { copyFileSync, statSync } from 'node:fs'
import { join } from 'node:path'
import { promisify } from 'node:util'
import t from 'tap'
import { brokerEnvironment } from '../src/emulator/broker-environment.js'
import { startEmulator } from '../src/emulator/emulator.js'
import { TEST_ENV } from './helper.js'
import { listeningUrl, startServerProcess } from './support/server-process.js'
import { callerToken } from './support/tokens.js'

t.test('the bundle starts, serves a token and Swagger UI, and exits 0 on SIGTERM', async (t) => {
  const emulator = await startEmulator()
  t.teardown(() => emulator.close())
  const dir = t.testdir({
    'policy.json': JSON.stringify({ callers: { 'portal-bff': { allow: [{ scope: 'video' }] } } }),
    'ca.pem': emulator.caCertPem,
    dist: {}
  })
  // The bundle reads the version from ../package.json, as it does in dist/.
  copyFileSync('package.json', join(dir, 'package.json'))
  const bundle = join(dir, 'dist/server.bundle.js')
  // Not measured: merging tsx-compiled coverage with tap's own would corrupt the report.
  await promisify(execFile)(process.execPath, ['--import', 'tsx', 'scripts/bundle.ts', bundle], {
    env: { ...process.env, _TAPJS_PROCESSINFO_COVERAGE_: '0' }
  })
  t.ok(statSync(bundle).size > 1_000_000, 'one file holds the broker and its dependencies')

  const server = startServerProcess([bundle], {
    ...TEST_ENV,
    POLICY_FILE: join(dir, 'policy.json'),
    ...brokerEnvironment(emulator, { caFile: join(dir, 'ca.pem') }),
    PORT: '0',
    HOST: '127.0.0.1'
  })
  t.teardown(() => void server.child.kill('SIGKILL'))
  const url = await listeningUrl(server)

  t.equal((await fetch(`${url}/readyz`)).status, 200)
  const token = await callerToken('portal-bff')
  const response = await fetch(`${url}/tokens/video/bundled`, { headers: { authorization: `Bearer ${token}` } })
  t.equal(response.status, 200)
  t.match(await response.json(), { accessToken: /^ey/, videoId: 'bundled' })
  // Swagger UI stays outside the bundle, loaded from node_modules with its static files.
  t.equal((await fetch(`${url}/docs/static/index.html`)).status, 200, 'Swagger UI page')
  t.match(await (await fetch(`${url}/docs/json`)).json(), { openapi: /^3\./ }, 'OpenAPI document')

  server.child.kill('SIGTERM')
  t.same(await server.exited, [0, null])
  const { stdout } = server.output()
  t.match(stdout, /"msg":"shut down"/, 'the last log line was flushed before exit')
  t.match(stdout, /"audit":true.*"resourceId":"bundled".*"status":200/, 'the request was audited')
  t.notOk(stdout.includes(token), 'the caller JWT is not in the log')
})
