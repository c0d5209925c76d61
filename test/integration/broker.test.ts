// The broker and the bundled emulator on real loopback sockets, with the real @azure/identity
// ManagedIdentityCredential and core-rest-pipeline. One identity scenario per file: MSAL keeps state per process.
import { createPublicKey } from 'node:crypto'
import { decodeJwt, SignJWT } from 'jose'
import t from 'tap'
import { build, emulatorFor, type Built } from '../helper.js'

const emulator = await emulatorFor(t)
const broker: Built = await build(t, { emulator, env: { ARM_TIMEOUT_MS: '1500', ARM_MAX_RETRIES: '1' } })
const baseUrl = await broker.app.listen({ port: 0, host: '127.0.0.1' })
const portal = await emulator.mintCallerToken('portal-bff')
const admin = await emulator.mintCallerToken('admin-bff')
broker.logs.secret(portal)
broker.logs.secret(admin)

async function get (path: string, token?: string) {
  const response = await fetch(baseUrl + path, { headers: token ? { authorization: `Bearer ${token}` } : {} })
  const body = (await response.json()) as Record<string, any>
  broker.logs.secret(body.accessToken)
  return { status: response.status, headers: response.headers, body }
}

t.beforeEach(() => emulator.setFault('arm', null))

t.test('a video token through real ARM and identity, then a cache hit with no new ARM call', async (t) => {
  const first = await get('/tokens/video/abc123', portal)
  t.equal(first.status, 200)
  const exp = decodeJwt(first.body.accessToken as string).exp as number
  t.ok(exp - Date.now() / 1000 >= 300, 'the token has at least 300 s left')
  t.equal(first.body.expiresOn, new Date(exp * 1000).toISOString())
  const armCalls = emulator.counters().arm.generateRestrictedViewerAccessToken

  const second = await get('/tokens/video/abc123', portal)
  t.equal(second.body.accessToken, first.body.accessToken)
  t.equal(emulator.counters().arm.generateRestrictedViewerAccessToken, armCalls, 'no new ARM call')
  t.match(broker.logs.audits.at(-1), { cache: 'hit', resourceId: 'abc123', status: 200 })
  t.equal(emulator.counters().identity, 1, 'the identity token is fetched once and reused')
})

t.test('with tracing off (the default), a traceparent goes no further and audit records have no trace', async (t) => {
  const traceparent = '00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01'
  const response = await fetch(`${baseUrl}/tokens/video/untraced`, {
    headers: { authorization: `Bearer ${portal}`, traceparent }
  })
  broker.logs.secret(((await response.json()) as { accessToken?: string }).accessToken)
  t.equal(response.status, 200)
  t.same(emulator.counters().arm.traceparents, [], 'ARM requests carry no traceparent')
  t.equal(broker.logs.audits.at(-1)?.traceId, null)
})

t.test('100 concurrent requests for a new id make exactly one ARM call', async (t) => {
  const before = emulator.counters().arm.generateRestrictedViewerAccessToken
  const responses = await Promise.all(Array.from({ length: 100 }, () => get('/tokens/video/concurrent1', portal)))
  t.same([...new Set(responses.map((r) => r.status))], [200])
  t.equal(new Set(responses.map((r) => r.body.accessToken)).size, 1)
  t.equal(emulator.counters().arm.generateRestrictedViewerAccessToken - before, 1)
})

t.test('Project and Account tokens carry the right scope', async (t) => {
  const project = await get('/tokens/project/07ec9e38d4', portal)
  t.equal(project.status, 200)
  t.match(decodeJwt(project.body.accessToken as string), { Scope: 'Project', ProjectId: '07ec9e38d4' })
  const account = await get('/tokens/account', admin)
  t.equal(account.status, 200)
  t.match(decodeJwt(account.body.accessToken as string), { Scope: 'Account' })
  t.equal((await get('/tokens/account', portal)).status, 403, 'a caller without Account scope gets 403')
})

t.test('forged and broken caller tokens get 401, never 500', async (t) => {
  const now = Math.floor(Date.now() / 1000)
  const claims = { iss: emulator.issuer, aud: emulator.audience, azp: 'portal-bff', exp: now + 600 }
  const b64 = (value: object) => Buffer.from(JSON.stringify(value)).toString('base64url')
  const jwks = (await (await fetch(emulator.jwksUri)).json()) as { keys: Array<Record<string, string>> }
  const publicPem = createPublicKey({ key: jwks.keys[0] as never, format: 'jwk' }).export({
    type: 'spki',
    format: 'pem'
  })
  const forged: Record<string, string> = {
    'alg none': `${b64({ alg: 'none', typ: 'JWT' })}.${b64(claims)}.`,
    'HS256 signed with the RS256 public key': await new SignJWT(claims)
      .setProtectedHeader({ alg: 'HS256', kid: jwks.keys[0]?.kid as string })
      .sign(new TextEncoder().encode(publicPem as string)),
    expired: await emulator.mintCallerToken('portal-bff', { expiresInSeconds: -3600 }),
    'wrong audience': await emulator.mintCallerToken('portal-bff', { claims: { aud: 'api://someone-else' } }),
    'wrong issuer': await emulator.mintCallerToken('portal-bff', { claims: { iss: 'https://evil.example/' } }),
    'unknown kid': `${portal.split('.')[0]?.replace(/.$/, '')}x.${portal.split('.')[1]}.${portal.split('.')[2]}`,
    'tampered payload': `${portal.split('.')[0]}.${b64({ ...claims, azp: 'admin-bff' })}.${portal.split('.')[2]}`
  }
  for (const [name, token] of Object.entries(forged)) {
    broker.logs.secret(token)
    const response = await get('/tokens/video/abc123', token)
    t.equal(response.status, 401, name)
    t.equal(response.headers.get('www-authenticate'), 'Bearer error="invalid_token"', name)
  }
  t.equal((await get('/tokens/video/abc123')).status, 401, 'no token')
})

t.test("ARM faults: 502 with ARM's code, 503 with Retry-After, 504 at the deadline", async (t) => {
  emulator.setFault('arm', { status: 404, body: {} })
  const notFound = await get('/tokens/video/fault1', portal)
  t.equal(notFound.status, 502)
  t.match(notFound.body, { error: { code: 'ARM_ERROR', details: [{ code: 'HTTP404' }] } })

  emulator.setFault('arm', { status: 400, body: { error: { code: 'InvalidInput', message: 'internal' } } })
  const invalid = await get('/tokens/video/fault2', portal)
  t.match(invalid.body, { error: { code: 'ARM_ERROR', details: [{ code: 'InvalidInput' }] } })

  emulator.setFault('arm', { status: 500, body: { error: { code: 'GENERAL', message: 'Trace id: x' } } })
  const failing = await get('/tokens/video/fault3', portal)
  t.equal(failing.status, 503, 'a server-side ARM failure is transient: 503 with Retry-After')
  t.match(failing.body, { error: { code: 'ARM_UNAVAILABLE', details: [{ code: 'GENERAL' }] } })
  t.ok(failing.headers.get('retry-after'))

  emulator.setFault('arm', { reset: true })
  const reset = await get('/tokens/video/fault4', portal)
  t.equal(reset.status, 503)
  t.equal(reset.body.error.code, 'ARM_UNAVAILABLE')
  t.ok(reset.headers.get('retry-after'))

  emulator.setFault('arm', { hang: true })
  const hung = await get('/tokens/video/fault5', portal)
  t.equal(hung.status, 504)
  t.equal(hung.body.error.code, 'ARM_TIMEOUT')

  emulator.setFault('arm', null)
  t.equal((await get('/tokens/video/fault1', portal)).status, 200, 'failures were not cached')
})

t.test('a transient ARM 500 is retried and succeeds', async (t) => {
  emulator.setFault('arm', { status: 500, count: 1 })
  const before = emulator.counters().arm.generateRestrictedViewerAccessToken
  t.equal((await get('/tokens/video/retry1', portal)).status, 200)
  t.equal(emulator.counters().arm.generateRestrictedViewerAccessToken - before, 2)
})

t.test('one 429 holds back every ARM call for its Retry-After; callers get 503 with Retry-After', async (t) => {
  emulator.setFault('arm', { status: 429, retryAfterSeconds: 30, count: 1 })
  const before = emulator.counters().arm.total
  const throttled = await get('/tokens/video/throttle1', portal)
  t.equal(throttled.status, 503)
  t.equal(throttled.body.error.code, 'ARM_THROTTLED')
  t.equal(throttled.headers.get('retry-after'), '30')
  const others = await Promise.all(
    ['throttle2', 'throttle3', 'throttle4'].map((id) => get(`/tokens/video/${id}`, portal))
  )
  t.same(
    others.map((r) => r.status),
    [503, 503, 503],
    'other keys are held back too'
  )
  t.ok(others.every((r) => Number(r.headers.get('retry-after')) > 0 && Number(r.headers.get('retry-after')) <= 30))
  t.equal(emulator.counters().arm.total - before, 1, 'only the throttled call reached ARM')
  t.equal((await get('/tokens/video/abc123', portal)).status, 200, 'cached tokens are still served during the hold')
})

t.test('every token request left exactly one audit line', async (t) => {
  const audits = broker.logs.audits
  t.ok(audits.length > 100)
  t.equal(new Set(audits.map((a) => a.reqId)).size, audits.length, 'one record per request id')
  t.same(broker.logs.leaks(), [], 'no access token or caller JWT in any log line')
})
