import { createRemoteJWKSet, decodeProtectedHeader, jwtVerify } from 'jose'
import t from 'tap'
import { send, startTestEmulator } from './fixtures/helpers.js'

const clock = Date.UTC(2026, 10, 27, 8)
const emulator = await startTestEmulator(t, {
  callerIssuer: 'https://issuer.test/v2.0',
  callerAudience: 'api://broker-test',
  now: () => clock
})
const jwks = createRemoteJWKSet(new URL(emulator.jwksUri))
const verifyAt = (token: string, at = clock) =>
  jwtVerify(token, jwks, {
    issuer: emulator.issuer,
    audience: emulator.audience,
    algorithms: ['RS256'],
    currentDate: new Date(at)
  })

t.test('the JWKS verifies a minted caller token', async (t) => {
  const token = await emulator.mintCallerToken('portal-bff')
  t.match(decodeProtectedHeader(token), { alg: 'RS256', typ: 'JWT', kid: String })
  const { payload } = await verifyAt(token)
  const iat = clock / 1000
  t.same(payload, {
    iss: 'https://issuer.test/v2.0',
    aud: 'api://broker-test',
    sub: 'portal-bff',
    azp: 'portal-bff',
    iat,
    nbf: iat,
    exp: iat + 3600
  })
  t.equal(emulator.counters().jwks, 1)
})

t.test('the JWKS publishes one RS256 signing key with a kid', async (t) => {
  const answer = await send(emulator.jwksUri)
  const [key] = answer.json().keys
  t.match(key, { kty: 'RSA', alg: 'RS256', use: 'sig', kid: String, n: String, e: 'AQAB' })
  t.equal(key.d, undefined, 'no private parts')
})

t.test('claims override or remove defaults; expiresInSeconds sets exp', async (t) => {
  const token = await emulator.mintCallerToken('reports-job', {
    claims: { roles: ['video.read'], azp: 'other-client', nbf: null, sub: undefined },
    expiresInSeconds: 120
  })
  const { payload } = await verifyAt(token)
  t.match(payload, { roles: ['video.read'], azp: 'other-client', exp: clock / 1000 + 120 })
  t.notOk('nbf' in payload, 'null drops the claim')
  t.notOk('sub' in payload, 'undefined drops the claim')
  await t.rejects(verifyAt(token, clock + 121_000), { code: 'ERR_JWT_EXPIRED' })
})

t.test('wrong audience and issuer are detectable', async (t) => {
  const token = await emulator.mintCallerToken('portal-bff', {
    claims: { aud: 'api://someone-else', iss: 'https://evil.test' }
  })
  await t.rejects(verifyAt(token), { code: 'ERR_JWT_CLAIM_VALIDATION_FAILED' })
})
