import { openSync, readFileSync } from 'node:fs'
import { readFile } from 'node:fs/promises'
import { join } from 'node:path'
import t from 'tap'
import { createLogSink } from '../../src/log-sink.js'
import { build } from '../helper.js'
import { callerToken } from '../support/tokens.js'

t.test('with AUDIT_LOG_FILE, records go to the file as well as the main log', async (t) => {
  const file = join(t.testdir({}), 'audit.log')
  const { request, logs } = await build(t, { env: { AUDIT_LOG_FILE: file } })
  const response = await request({ url: '/tokens/video/abc', token: await callerToken('portal-bff') })
  t.equal(response.statusCode, 200)
  await request({ url: '/tokens/video/abc' })
  const lines = (await readFile(file, 'utf8'))
    .trim()
    .split('\n')
    .map((line) => JSON.parse(line) as Record<string, unknown>)
  t.equal(lines.length, 2)
  t.match(lines[0], { audit: true, caller: 'portal-bff', status: 200, tokenFingerprint: /^[0-9a-f]{16}$/ })
  t.match(lines[1], { audit: true, status: 401, code: 'AUTH_REQUIRED' })
  t.equal(logs.audits.length, 2)
  t.notOk((await readFile(file, 'utf8')).includes(response.json().accessToken), 'the token is not in the audit file')
})

t.test('AUDIT_LOG_FILE=/dev/full: the audit cannot be written, so no token is returned', async (t) => {
  const { request, logs } = await build(t, { env: { AUDIT_LOG_FILE: '/dev/full' } })
  const response = await request({ url: '/tokens/video/abc', token: await callerToken('portal-bff') })
  t.equal(response.statusCode, 503)
  t.same(response.json(), {
    error: {
      code: 'AUDIT_UNAVAILABLE',
      message: 'The audit record could not be written, so no token was issued; retry later'
    }
  })
  t.equal(response.headers['retry-after'], '5')
  t.notMatch(response.body, /accessToken/)
  t.ok(
    logs.records.some((r) => r.level === 50 && r.code === 'AUDIT_UNAVAILABLE'),
    'the failure is logged'
  )
  const unauthenticated = await request({ url: '/tokens/video/abc' })
  t.equal(unauthenticated.statusCode, 503, 'every token-route answer waits for its audit record')
})

t.test('the main log fails closed too: if stdout cannot take the record, no token is returned', async (t) => {
  const sink = createLogSink(openSync('/dev/full', 'a'))
  const { request } = await build(t, { logStream: sink })
  t.teardown(() => sink.close())
  const response = await request({ url: '/tokens/video/abc', token: await callerToken('portal-bff') })
  t.equal(response.statusCode, 503)
  t.equal(response.json().error.code, 'AUDIT_UNAVAILABLE')
  t.notMatch(response.body, /accessToken/)
})

t.test('with the production sink, the record is in the log once the response is out', async (t) => {
  const file = join(t.testdir({}), 'stdout.log')
  const sink = createLogSink(openSync(file, 'a'))
  const { app } = await build(t, { logStream: sink })
  t.teardown(() => sink.close())
  await app.listen({ host: '127.0.0.1', port: 0 })
  const { port } = app.server.address() as { port: number }
  const response = await fetch(`http://127.0.0.1:${port}/tokens/video/abc`, {
    headers: { authorization: `Bearer ${await callerToken('portal-bff')}`, 'x-request-id': 'audit-before-response' }
  })
  t.equal(response.status, 200)
  const records = readFileSync(file, 'utf8')
    .trim()
    .split('\n')
    .map((line) => JSON.parse(line) as Record<string, unknown>)
  t.match(
    records.filter((r) => r.audit === true),
    [{ reqId: 'audit-before-response', status: 200, cache: 'miss' }]
  )
  t.notOk(
    readFileSync(file, 'utf8').includes(((await response.json()) as { accessToken: string }).accessToken),
    'no token in the log'
  )
})
