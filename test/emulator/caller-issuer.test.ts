import { createRemoteJWKSet, decodeProtectedHeader, jwtVerify } from 'jose'
import t from 'tap'
import { send, startTestEmulator } from './fixtures/helpers.js'

const clock = Date.UTC(2026, 10, 27, 8)
const TENANT = '8c406f87-77ac-4ebb-a401-e8562450630e'
const CLIENT_ID = '3f6e1c2a-9b8d-4e7f-a1b2-c3d4e5f60718'
const emulator = await startTestEmulator(t, {
  tenantId: TENANT,
  brokerClientId: CLIENT_ID,
  brokerApplicationIdUri: 'api://broker-test',
  now: () => clock
})
const authority = emulator.authorityHost
// The keys a broker in Entra mode reads: {authority}/{tenant}/discovery/v2.0/keys.
const jwks = createRemoteJWKSet(new URL(`${authority}/${TENANT}/discovery/v2.0/keys`))
const verifyAt = (token: string, at = clock) =>
  jwtVerify(token, jwks, {
    issuer: [emulator.issuer, emulator.v1Issuer],
    audience: [CLIENT_ID, 'api://broker-test'],
    algorithms: ['RS256'],
    currentDate: new Date(at)
  })
const GUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/

t.test('a v2.0 app-only token, shaped as Entra issues it', async (t) => {
  const token = await emulator.mintCallerToken('portal-bff', { roles: ['Tokens.Video'] })
  t.same(Object.keys(decodeProtectedHeader(token)), ['alg', 'kid', 'typ'])
  t.match(decodeProtectedHeader(token), { alg: 'RS256', typ: 'JWT', kid: String })
  const { payload } = await verifyAt(token)
  const iat = clock / 1000
  t.same(Object.keys(payload).sort(), [
    'aio', 'aud', 'azp', 'azpacr', 'exp', 'iat', 'idp', 'iss', 'nbf', 'oid', 'rh', 'roles', 'sub', 'tid', 'uti', 'ver'
  ])
  t.match(payload, {
    aud: CLIENT_ID,
    iss: `${authority}/${TENANT}/v2.0`,
    iat,
    nbf: iat,
    exp: iat + 3600,
    azp: 'portal-bff',
    azpacr: '2',
    idp: `https://sts.windows.net/${TENANT}/`,
    oid: GUID,
    roles: ['Tokens.Video'],
    tid: TENANT,
    ver: '2.0'
  })
  t.equal(payload.sub, payload.oid, "an app-only token's sub is the service principal's object id")
})

t.test('a v1.0 app-only token, shaped as Entra issues it', async (t) => {
  const token = await emulator.mintCallerToken('portal-bff', { version: 1 })
  const header = decodeProtectedHeader(token)
  t.equal(header.x5t, header.kid, 'v1.0 tokens carry x5t, the same as kid')
  const { payload } = await verifyAt(token)
  t.same(Object.keys(payload).sort(), [
    'aio', 'appid', 'appidacr', 'aud', 'exp', 'iat', 'idp', 'iss', 'nbf', 'oid', 'rh', 'sub', 'tid', 'uti', 'ver'
  ])
  t.match(payload, {
    aud: 'api://broker-test',
    iss: `https://sts.windows.net/${TENANT}/`,
    appid: 'portal-bff',
    appidacr: '2',
    tid: TENANT,
    ver: '1.0'
  })
  t.notOk('roles' in payload, 'no roles claim without assigned roles')
})

t.test('one BFF is one service principal, whichever the version', async (t) => {
  const v1 = (await verifyAt(await emulator.mintCallerToken('portal-bff', { version: 1 }))).payload
  const v2 = (await verifyAt(await emulator.mintCallerToken('portal-bff'))).payload
  const other = (await verifyAt(await emulator.mintCallerToken('admin-bff'))).payload
  t.equal(v1.oid, v2.oid)
  t.not(v2.oid, other.oid)
  t.not(v1.uti, v2.uti, 'each token has its own uti')
})

t.test("another tenant's token names that tenant throughout", async (t) => {
  const other = 'c0ffee00-1111-2222-3333-444444444444'
  const { payload } = await jwtVerify(await emulator.mintCallerToken('portal-bff', { tenantId: other }), jwks, {
    currentDate: new Date(clock)
  })
  t.match(payload, { tid: other, iss: `${authority}/${other}/v2.0`, idp: `https://sts.windows.net/${other}/` })
})

t.test('the caller JWKS publishes one RS256 signing key with a kid', async (t) => {
  const answer = await send(emulator.jwksUri)
  const [key] = answer.json().keys
  t.match(key, { kty: 'RSA', alg: 'RS256', use: 'sig', kid: String, n: String, e: 'AQAB' })
  t.equal(key.d, undefined, 'no private parts')
  const discovery = await send(`${authority}/${TENANT}/discovery/v2.0/keys`)
  t.same(discovery.json().keys[0], key, "the tenant's discovery keys list it first")
  t.equal(discovery.json().keys.length, 2, 'with the key that signs management tokens')
  t.ok(discovery.json().keys.every((k: { d?: string }) => k.d === undefined), 'no private parts')
})

t.test('the OIDC metadata names the same issuer and keys', async (t) => {
  const metadata = (await send(`${authority}/${TENANT}/v2.0/.well-known/openid-configuration`)).json()
  t.equal(metadata.issuer, emulator.issuer)
  t.equal(metadata.jwks_uri, `${authority}/${TENANT}/discovery/v2.0/keys`)
})

t.test('claims override or remove defaults; expiresInSeconds sets exp', async (t) => {
  const token = await emulator.mintCallerToken('reports-job', {
    claims: { azp: 'other-client', nbf: null, rh: undefined },
    expiresInSeconds: 120
  })
  const { payload } = await verifyAt(token)
  t.match(payload, { azp: 'other-client', exp: clock / 1000 + 120 })
  t.notOk('nbf' in payload, 'null drops the claim')
  t.notOk('rh' in payload, 'undefined drops the claim')
  await t.rejects(verifyAt(token, clock + 121_000), { code: 'ERR_JWT_EXPIRED' })
})

t.test("the tenant's keys are counted and take the jwks faults, like the caller JWKS", async (t) => {
  const keys = `${authority}/${TENANT}/discovery/v2.0/keys`
  const before = emulator.counters().jwks
  t.equal((await send(keys)).status, 200)
  t.equal(emulator.counters().jwks, before + 1)
  emulator.setFault('jwks', { status: 503 })
  t.teardown(() => emulator.setFault('jwks', null))
  t.equal((await send(keys)).status, 503)
})

t.test('wrong audience and issuer are detectable', async (t) => {
  const token = await emulator.mintCallerToken('portal-bff', {
    claims: { aud: 'api://someone-else', iss: 'https://evil.test' }
  })
  await t.rejects(verifyAt(token), { code: 'ERR_JWT_CLAIM_VALIDATION_FAILED' })
})
