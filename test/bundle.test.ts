// What npm start and the image run: the one-file bundle from scripts/bundle.ts, built here from the
// current sources and run as a child process against the emulator.
import { execFile } from 'node:child_process'
import { copyFileSync, readFileSync, statSync } from 'node:fs'
import { join } from 'node:path'
import { promisify } from 'node:util'
import t from 'tap'
import { startBrokerProcess } from '../scripts/broker-process.js'
import { startEmulator } from '../src/emulator/emulator.js'
import { TEST_ENV } from './helper.js'
import { callerToken } from './support/tokens.js'

t.test('the bundle starts, serves a token and Swagger UI, and exits 0 on SIGTERM', async (t) => {
  const emulator = await startEmulator()
  t.teardown(() => emulator.close())
  const dir = t.testdir({
    'policy.json': JSON.stringify({ callers: { 'portal-bff': { allow: [{ scope: 'video' }] } } }),
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

  const server = await startBrokerProcess({
    args: [bundle],
    env: { ...TEST_ENV, POLICY_FILE: join(dir, 'policy.json') },
    emulator
  })
  t.teardown(() => server.stop('SIGKILL'))
  await server.ready()
  const url = server.url

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

t.test('a stack trace from the bundle names src/ files and lines, as npm start and the image run it', async (t) => {
  const pkg = JSON.parse(readFileSync('package.json', 'utf8')) as { scripts: Record<string, string> }
  t.match(pkg.scripts.start, /^node --enable-source-maps dist\/server\.bundle\.js$/, 'npm start')
  t.match(
    readFileSync('Dockerfile', 'utf8'),
    /^CMD \["node", "--enable-source-maps", "dist\/server\.bundle\.js"\]$/m,
    'the image'
  )
  const dir = t.testdir({ dist: {} })
  copyFileSync('package.json', join(dir, 'package.json'))
  const bundle = join(dir, 'dist/server.bundle.js')
  await promisify(execFile)(process.execPath, ['--import', 'tsx', 'scripts/bundle.ts', bundle], {
    env: { ...process.env, _TAPJS_PROCESSINFO_COVERAGE_: '0' }
  })
  t.ok(statSync(`${bundle}.map`).size > 0, 'the source map ships next to the bundle')
  copyFileSync('config/policy.sample.json', join(dir, 'policy.json'))
  // An audit file that cannot be opened fails at start-up with an error thrown from src/audit.ts.
  const server = await startBrokerProcess({
    args: ['--enable-source-maps', bundle],
    env: { ...TEST_ENV, POLICY_FILE: join(dir, 'policy.json'), AUDIT_LOG_FILE: join(dir, 'no-such-dir', 'audit.log') }
  })
  t.equal((await server.exited)[0], 1)
  const { stderr } = server.output()
  t.match(stderr, /ENOENT/)
  t.match(stderr, /\bat .*src\/audit\.ts:\d+:\d+/, 'the trace names the source file and line')
  t.notMatch(stderr, /server\.bundle\.js:\d+/, 'not a line of the bundle')
})
