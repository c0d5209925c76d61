import { decodeJwt } from 'jose'
import t from 'tap'
import { generateToken, managementToken, send, startTestEmulator } from './fixtures/helpers.js'

const emulator = await startTestEmulator(t)
const token = await managementToken(emulator)
const admin = (method: string, path: string, body?: unknown, contentType = 'application/json') =>
  send(`${emulator.adminUrl}${path}`, {
    method,
    headers: body === undefined ? {} : { 'content-type': contentType },
    body: body === undefined ? undefined : typeof body === 'string' ? body : JSON.stringify(body)
  })

t.test('GET /admin/counters', async (t) => {
  emulator.reset()
  await generateToken(emulator, token)
  const answer = await admin('GET', '/counters')
  t.equal(answer.status, 200)
  t.same(answer.json(), {
    arm: { generateRestrictedViewerAccessToken: 1, accountsGet: 0, total: 1, byStatus: { 200: 1 }, traceparents: [] },
    identity: 0,
    jwks: 0
  })
})

t.test('PUT and DELETE /admin/faults/:target', async (t) => {
  const put = await admin('PUT', '/faults/arm', { status: 503, retryAfterSeconds: 2 })
  t.equal(put.status, 204)
  const faulted = await generateToken(emulator, token)
  t.equal(faulted.status, 503)
  t.equal(faulted.headers['retry-after'], '2')
  t.equal((await admin('DELETE', '/faults/arm')).status, 204)
  t.equal((await generateToken(emulator, token)).status, 200)
})

t.test('fault requests are validated', async (t) => {
  const cases: [string, unknown, string | undefined, string][] = [
    ['/faults/dns', { status: 500 }, undefined, 'BadRequest'],
    ['/faults/arm', { status: 'soon' }, undefined, 'InvalidFault'],
    ['/faults/arm', '{"status":', undefined, 'BadRequest'],
    ['/faults/arm', '', undefined, 'BadRequest'],
    ['/faults/arm', undefined, undefined, 'InvalidFault'],
    ['/faults/arm', 'status=500', 'text/plain', 'InvalidFault'],
    ['/faults/arm', '<status>500</status>', 'application/xml', 'UnsupportedMediaType']
  ]
  for (const [path, body, contentType, code] of cases) {
    const answer = await admin('PUT', path, body, contentType)
    t.equal(answer.json().error.code, code, `${path} ${String(body)}`)
    t.equal(answer.status, code === 'UnsupportedMediaType' ? 415 : 400)
  }
  t.equal((await admin('DELETE', '/faults/dns')).status, 400)
  t.equal((await generateToken(emulator, token)).status, 200, 'no fault was set')
})

t.test('POST /admin/reset zeroes counters and clears faults', async (t) => {
  await admin('PUT', '/faults/jwks', { status: 500 })
  await send(emulator.jwksUri)
  t.equal(emulator.counters().jwks, 1)
  t.equal((await admin('POST', '/reset')).status, 204)
  t.same(emulator.counters().jwks, 0)
  t.equal((await send(emulator.jwksUri)).status, 200)
})

t.test('POST /admin/caller-tokens', async (t) => {
  const answer = await admin('POST', '/caller-tokens', {
    caller: 'portal-bff',
    claims: { roles: ['viewer'] },
    expiresInSeconds: 60
  })
  t.equal(answer.status, 200)
  const claims = decodeJwt(answer.json().token)
  t.match(claims, {
    sub: /^[0-9a-f-]{36}$/,
    azp: 'portal-bff',
    roles: ['viewer'],
    iss: emulator.issuer,
    aud: emulator.audience
  })
  t.equal((claims.exp ?? 0) - (claims.iat ?? 0), 60)

  const v1 = await admin('POST', '/caller-tokens', { caller: 'portal-bff', version: 1, roles: ['Tokens.Video'] })
  t.match(decodeJwt(v1.json().token), {
    appid: 'portal-bff',
    roles: ['Tokens.Video'],
    iss: emulator.v1Issuer,
    aud: 'api://vi-token-broker',
    ver: '1.0'
  })
  const foreign = await admin('POST', '/caller-tokens', { caller: 'portal-bff', tenantId: 'another-tenant' })
  t.match(decodeJwt(foreign.json().token), { tid: 'another-tenant' })

  const invalid = [
    {},
    { caller: '' },
    { caller: 'x', claims: [] },
    { caller: 'x', claims: null },
    { caller: 'x', expiresInSeconds: 0 },
    { caller: 'x', expiresInSeconds: '60' },
    { caller: 'x', expiresIn: 60 },
    { caller: 'x', version: 3 },
    { caller: 'x', version: '2' },
    { caller: 'x', roles: 'Tokens.Video' },
    { caller: 'x', roles: [''] },
    { caller: 'x', tenantId: '' },
    'null'
  ]
  for (const body of invalid) {
    const rejected = await admin('POST', '/caller-tokens', body)
    t.equal(rejected.status, 400, JSON.stringify(body))
    t.equal(rejected.json().error.code, 'InvalidRequest')
  }
})
