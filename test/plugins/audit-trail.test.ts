// What operators read per request: the audit record and the request counters.
import t from 'tap'
import { build } from '../helper.js'
import { fakeArm } from '../support/fake-arm.js'
import { callerToken } from '../support/tokens.js'

const POLICY = {
  callers: { 'portal-bff': { allow: [{ scope: 'video' }] }, 'ops-bff': { allow: [], admin: true } }
}

t.test("the audit record keeps ARM's request id when ARM answers an error", async (t) => {
  const arm = fakeArm(async () => ({
    status: 403,
    headers: { 'x-ms-request-id': 'arm-refused-7f3c' },
    body: { error: { code: 'AuthorizationFailed', message: 'no role' } }
  }))
  const { request, logs } = await build(t, { policy: POLICY, armHttpClient: arm.client })
  const response = await request({ url: '/tokens/video/abc', token: await callerToken('portal-bff') })
  t.equal(response.json().error.code, 'ARM_ERROR')
  t.match(logs.audits.at(-1), { status: 502, code: 'ARM_ERROR', armRequestId: 'arm-refused-7f3c' })
})

t.test('evictions have their own counter and are not token requests', async (t) => {
  const { request } = await build(t, { policy: POLICY })
  const ops = await callerToken('ops-bff')
  await request({ url: '/tokens/video/abc', token: await callerToken('portal-bff') })
  t.equal((await request({ method: 'DELETE', url: '/cache', token: ops })).statusCode, 200)
  t.equal((await request({ method: 'DELETE', url: '/cache/video/abc', token: ops })).statusCode, 200)
  const portal = await callerToken('portal-bff')
  t.equal((await request({ method: 'DELETE', url: '/cache/video/abc', token: portal })).statusCode, 403)
  const metrics = (await request({ url: '/metrics' })).body
  const requests = metrics.split('\n').filter((line) => line.startsWith('vi_broker_token_requests_total{'))
  t.same(
    requests,
    ['vi_broker_token_requests_total{caller="portal-bff",scope="video",status="200",account="default"} 1'],
    'one'
  )
  t.match(metrics, /^vi_broker_evictions_total\{caller="ops-bff",scope="all",status="200",account="default"\} 1$/m)
  t.match(metrics, /^vi_broker_evictions_total\{caller="ops-bff",scope="video",status="200",account="default"\} 1$/m)
  t.match(metrics, /^vi_broker_evictions_total\{caller="portal-bff",scope="video",status="403",account="default"\} 1$/m)
})
