// What npm start and the image run: the one-file bundle from scripts/bundle.ts, built here from the
// current sources and run as a child process against the emulator.
import { execFile } from 'node:child_process'
import { copyFileSync, readFileSync, statSync } from 'node:fs'
import { join } from 'node:path'
import { promisify } from 'node:util'
import t, { type Test } from 'tap'
import { startBrokerProcess } from '../scripts/broker-process.js'
import { startEmulator } from '../src/emulator/emulator.js'
import { TEST_ENV } from './helper.js'
import { otlpReceiver, SERVER } from './support/otlp-receiver.js'
import { callerToken } from './support/tokens.js'

/** A fresh bundle of the current sources in a test directory (inside the repository), and an emulator. */
async function bundled (t: Test) {
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
  return { emulator, dir, bundle }
}

t.test('the bundle starts, serves a token and Swagger UI, and exits 0 on SIGTERM', async (t) => {
  const { emulator, dir, bundle } = await bundled(t)
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

t.test('the bundle loads OpenTelemetry from node_modules when configured: ARM sees the trace', async (t) => {
  const { emulator, dir, bundle } = await bundled(t)
  const receiver = await otlpReceiver()
  t.teardown(receiver.close)
  // The test directory is inside the repository, so the packages left out of the bundle resolve from
  // its node_modules, as they do in the image.
  const server = await startBrokerProcess({
    args: [bundle],
    env: {
      ...TEST_ENV,
      POLICY_FILE: join(dir, 'policy.json'),
      OTEL_EXPORTER_OTLP_ENDPOINT: receiver.url,
      OTEL_EXPORTER_OTLP_PROTOCOL: 'http/json'
    },
    emulator
  })
  t.teardown(() => server.stop('SIGKILL'))
  await server.ready()
  const traceId = '0af7651916cd43dd8448eb211c80319c'
  const response = await fetch(`${server.url}/tokens/video/traced`, {
    headers: {
      authorization: `Bearer ${await callerToken('portal-bff')}`,
      traceparent: `00-${traceId}-b7ad6b7169203331-01`
    }
  })
  t.equal(response.status, 200)
  t.same(await server.stop('SIGTERM'), [0, null], 'exits 0, after exporting its spans')
  t.ok(emulator.counters().arm.traceparents.some((header) => header.includes(traceId)), 'ARM got the trace')
  const exported = receiver.spans()
  t.ok(exported.some((span) => span.kind === SERVER && span.traceId === traceId), 'the server span was exported')
})
