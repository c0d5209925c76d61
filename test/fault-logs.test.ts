// What operators read when ARM or the identity misbehaves: an expected upstream fault is one warn line
// with its code and no stack trace; a stack trace means a bug.
import t, { type Test } from 'tap'
import { build } from './helper.js'
import { fakeArm } from './support/fake-arm.js'
import type { LogCapture } from './support/log-capture.js'
import { callerToken } from './support/tokens.js'

/** The log lines at warn or above. */
const loud = (logs: LogCapture) => logs.records.filter((r) => (r.level as number) >= 40 && r.audit !== true)

function assertExpectedFaults (t: Test, logs: LogCapture, code: string) {
  const lines = loud(logs)
  t.ok(lines.length > 0, `${code}: logged`)
  for (const line of lines) {
    t.equal(line.level, 40, `${code}: "${String(line.msg)}" at warn`)
    t.ok(typeof line.code === 'string', `${code}: "${String(line.msg)}" has its code (${String(line.code)})`)
    t.notOk('err' in line, `${code}: "${String(line.msg)}" has no error object`)
  }
  t.notMatch(logs.raw.join('\n'), /"stack"|\n\s+at /, `${code}: no stack trace in any line`)
  t.ok(lines.some((line) => line.code === code && line.msg === 'request failed'), `${code}: the request's line`)
}

t.test('ARM answering 503 is a warn line with ARM_UNAVAILABLE and ARM request ids, no stack', async (t) => {
  const arm = fakeArm(async () => ({ status: 503, body: { error: { code: 'ServiceUnavailable', message: 'busy' } } }))
  const { request, logs } = await build(t, { armHttpClient: arm.client, env: { ARM_MAX_RETRIES: '0' } })
  const response = await request({ url: '/tokens/video/abc', token: await callerToken('portal-bff') })
  t.equal(response.statusCode, 503)
  assertExpectedFaults(t, logs, 'ARM_UNAVAILABLE')
  t.match(loud(logs).find((l) => l.msg === 'request failed'), { upstream: { status: 503, armRequestId: 'req-1' } })
})

t.test('a throttle hold is a warn line with ARM_THROTTLED, no stack', async (t) => {
  const arm = fakeArm(async () => ({ status: 429, headers: { 'retry-after': '30' } }))
  const { request, logs } = await build(t, { armHttpClient: arm.client })
  const token = await callerToken('portal-bff')
  t.equal((await request({ url: '/tokens/video/first', token })).statusCode, 503)
  const held = await request({ url: '/tokens/video/second', token })
  t.equal(held.json().error.code, 'ARM_THROTTLED')
  t.equal(arm.calls.length, 1, 'the second request was held back, not sent')
  assertExpectedFaults(t, logs, 'ARM_THROTTLED')
})

t.test('an ARM timeout is a warn line with ARM_TIMEOUT, no stack', async (t) => {
  const hanging = fakeArm(() => new Promise(() => {}))
  const { request, logs } = await build(t, { armHttpClient: hanging.client, env: { ARM_TIMEOUT_MS: '100' } })
  t.equal((await request({ url: '/tokens/video/abc', token: await callerToken('portal-bff') })).statusCode, 504)
  assertExpectedFaults(t, logs, 'ARM_TIMEOUT')
  t.ok(loud(logs).some((l) => l.msg === 'arm call failed' && l.code === 'ARM_TIMEOUT'), 'the ARM attempt too')
})

t.test('a bug is an error line with its stack trace', async (t) => {
  const broken = fakeArm(() => {
    throw new TypeError('undefined is not a function')
  })
  const { request, logs } = await build(t, { armHttpClient: broken.client, env: { ARM_MAX_RETRIES: '0' } })
  await request({ url: '/tokens/video/abc', token: await callerToken('portal-bff') })
  const bug = logs.records.find((r) => (r.err as { stack?: string } | undefined)?.stack?.includes('TypeError'))
  t.ok(bug, 'the TypeError is logged with its stack')
  t.equal(bug?.level, 50, 'at error')
})
