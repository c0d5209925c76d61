import { createServer, type Server } from 'node:http'
import type { AddressInfo } from 'node:net'
import { exportJWK, generateKeyPair, SignJWT, type CryptoKey, type JWK, type JWTPayload } from 'jose'
import t, { type Test } from 'tap'
import { AUTH_REASONS, bearerToken, callerIdFrom, createCallerVerifier, toAuthError } from '../src/auth.js'
import { systemClock, type Clock } from '../src/clock.js'
import type { AuthConfig } from '../src/config.js'
import { brokerError, isBrokerError, type BrokerError } from '../src/errors.js'
import { fakeClock } from './support/fake-clock.js'
import { callerToken, TEST_AUDIENCE, TEST_ISSUER, TEST_SECRET } from './support/tokens.js'

const COMMON = {
  issuers: [TEST_ISSUER],
  audiences: [TEST_AUDIENCE],
  callerClaims: ['azp', 'appid', 'sub'],
  clockSkewSeconds: 60,
  maxLifetimeSeconds: 86_400
}
type Auth = AuthConfig<() => string>
const HS256: Auth = { mode: 'hs256', secret: () => TEST_SECRET, ...COMMON }

const jwksAuth = (
  jwksUri: string,
  overrides: Partial<{ jwksTimeoutMs: number; jwksCooldownMs: number }> = {}
): Auth => ({
  mode: 'jwks',
  jwksUri,
  jwksTimeoutMs: 2_000,
  jwksCooldownMs: 30_000,
  ...COMMON,
  ...overrides
})

const b64 = (value: unknown) => Buffer.from(JSON.stringify(value)).toString('base64url')
/** A JWT-shaped token with this header and a garbage signature: enough to reach key resolution, never to verify. */
const unsigned = (header: Record<string, unknown>, claims: JWTPayload = { iss: TEST_ISSUER, aud: TEST_AUDIENCE }) =>
  `${b64(header)}.${b64(claims)}.${Buffer.from('not a signature').toString('base64url')}`

/** The rejection of a promise, failing the test if it resolves. */
async function rejectionOf (t: Test, promise: Promise<unknown>): Promise<BrokerError> {
  try {
    await promise
  } catch (error) {
    t.ok(isBrokerError(error), 'rejects with a catalogue error')
    return error as BrokerError
  }
  t.fail('expected a rejection')
  return brokerError('INTERNAL_ERROR')
}

interface SigningKey {
  kid: string
  privateKey: CryptoKey
  jwk: JWK
}

async function signingKey (kid: string): Promise<SigningKey> {
  const { publicKey, privateKey } = await generateKeyPair('RS256')
  const jwk: JWK = { ...(await exportJWK(publicKey)), kid, alg: 'RS256', use: 'sig' }
  return { kid, privateKey, jwk }
}

/** An RS256 token for the test issuer and audience, valid for 5 minutes from the clock. */
function rs256 (key: SigningKey, claims: JWTPayload = {}, clock: Clock = systemClock) {
  const iat = Math.floor(clock.now() / 1000)
  return new SignJWT({ iss: TEST_ISSUER, aud: TEST_AUDIENCE, azp: 'admin-bff', iat, exp: iat + 300, ...claims })
    .setProtectedHeader({ alg: 'RS256', kid: key.kid })
    .sign(key.privateKey)
}

type JwksBehaviour = 'serve' | 'fail-500' | 'hang'

/** A JWKS endpoint on 127.0.0.1 that counts its hits; its keys and behaviour can change during a test. */
async function jwksServer (t: Test, keys: JWK[]) {
  const state = { hits: 0, keys, behaviour: 'serve' as JwksBehaviour }
  const server: Server = createServer((_request, response) => {
    state.hits++
    if (state.behaviour === 'hang') return
    if (state.behaviour === 'fail-500') {
      response.writeHead(500, { 'content-type': 'text/plain' }).end('internal error')
      return
    }
    response.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ keys: state.keys }))
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  t.teardown(async () => {
    server.closeAllConnections()
    await new Promise((resolve) => server.close(resolve))
  })
  const { port } = server.address() as AddressInfo
  return { state, uri: `http://127.0.0.1:${port}/.well-known/jwks.json` }
}

t.test('callerIdFrom', async (t) => {
  const claimNames = ['azp', 'appid', 'sub']

  t.test('takes the first configured claim present', async (t) => {
    t.equal(callerIdFrom({ azp: 'portal-bff', appid: 'app', sub: 'subject' }, claimNames), 'portal-bff')
    t.equal(callerIdFrom({ appid: 'app', sub: 'subject' }, claimNames), 'app')
    t.equal(callerIdFrom({ sub: 'subject' }, claimNames), 'subject')
  })

  t.test('follows the configured order, not the order of the claims', async (t) => {
    t.equal(callerIdFrom({ azp: 'portal-bff', sub: 'subject' }, ['sub', 'azp']), 'subject')
    t.equal(callerIdFrom({ azp: 'portal-bff', oid: 'object-id' }, ['oid']), 'object-id')
  })

  // Issue 12: this used to skip an unusable value and take the next claim (the sub), which let a token
  // whose azp was, say, an array be served as its sub.
  t.test('the first claim present decides: empty, too long and non-string values are AUTH_NO_CALLER', async (t) => {
    for (const unusable of ['', 'x'.repeat(257), 42, true, null, ['portal-bff'], { id: 'portal-bff' }]) {
      t.throws(
        () => callerIdFrom({ azp: unusable, sub: 'subject' }, claimNames),
        { code: 'AUTH_NO_CALLER', statusCode: 401, reason: 'no_caller' },
        `refuses ${JSON.stringify(unusable)} rather than reading the sub`
      )
    }
  })

  t.test('accepts a value of exactly 256 characters', async (t) => {
    const longest = 'c'.repeat(256)
    t.equal(callerIdFrom({ azp: longest }, claimNames), longest)
  })

  t.test('does not read inherited properties as claims', async (t) => {
    t.throws(() => callerIdFrom({}, ['constructor', 'toString', '__proto__']), { code: 'AUTH_NO_CALLER' })
    t.equal(callerIdFrom({ sub: 'subject' }, ['constructor', 'sub']), 'subject', 'an inherited name is not present')
  })

  t.test('throws AUTH_NO_CALLER when no claim holds a usable string', async (t) => {
    for (const claims of [{}, { azp: '', appid: 7, sub: 'x'.repeat(300) }, { name: 'someone' }]) {
      t.throws(
        () => callerIdFrom(claims, claimNames),
        { code: 'AUTH_NO_CALLER', statusCode: 401 },
        JSON.stringify(claims)
      )
    }
    t.throws(() => callerIdFrom({ azp: 'portal-bff' }, []), { code: 'AUTH_NO_CALLER' }, 'no claim names configured')
  })
})

t.test('bearerToken', async (t) => {
  t.equal(bearerToken('Bearer abc.def.ghi'), 'abc.def.ghi')
  t.equal(bearerToken('bearer abc.def.ghi'), 'abc.def.ghi', 'the scheme is case-insensitive')
  for (const header of [undefined, '', 'Basic dXNlcjpwYXNz', 'Bearer', 'Token abc']) {
    t.throws(() => bearerToken(header), { code: 'AUTH_REQUIRED', reason: 'missing' }, `${JSON.stringify(header)}`)
  }
  for (const header of ['Bearer ', 'Bearer  abc', 'Bearer a b', 'Bearer\tabc']) {
    t.throws(() => bearerToken(header), { code: 'AUTH_INVALID', reason: 'malformed' }, JSON.stringify(header))
  }
})

t.test('toAuthError', async (t) => {
  const joseError = (code: string, extra: Record<string, unknown> = {}) =>
    Object.assign(new Error(code), { code, ...extra })

  t.test('expired token → AUTH_EXPIRED', async (t) => {
    const source = joseError('ERR_JWT_EXPIRED', { claim: 'exp', reason: 'check_failed' })
    const error = toAuthError(source)
    t.match(error, { code: 'AUTH_EXPIRED', statusCode: 401, reason: 'expired' })
    t.equal(error.cause, source, 'keeps the original error as cause')
  })

  t.test('each failure has its reason', async (t) => {
    const cases: Array<[Error, string]> = [
      [joseError('ERR_JOSE_ALG_NOT_ALLOWED'), 'algorithm'],
      [joseError('ERR_JWS_SIGNATURE_VERIFICATION_FAILED'), 'signature'],
      [joseError('ERR_JWS_INVALID'), 'malformed'],
      [joseError('ERR_JWT_INVALID'), 'malformed'],
      [joseError('ERR_JWT_CLAIM_VALIDATION_FAILED', { claim: 'nbf', reason: 'check_failed' }), 'not_yet_valid'],
      [joseError('ERR_JWT_CLAIM_VALIDATION_FAILED', { claim: 'nbf', reason: 'invalid' }), 'claim_type'],
      [joseError('ERR_JWT_CLAIM_VALIDATION_FAILED', { claim: 'iat', reason: 'invalid' }), 'claim_type'],
      [joseError('ERR_JWT_CLAIM_VALIDATION_FAILED', { claim: 'iss', reason: 'check_failed' }), 'issuer'],
      [joseError('ERR_JWT_CLAIM_VALIDATION_FAILED', { claim: 'iss', reason: 'missing' }), 'issuer'],
      [joseError('ERR_JWT_CLAIM_VALIDATION_FAILED', { claim: 'aud', reason: 'check_failed' }), 'audience'],
      [joseError('ERR_JWT_CLAIM_VALIDATION_FAILED', { claim: 'exp', reason: 'missing' }), 'missing_claim'],
      [joseError('ERR_JWT_CLAIM_VALIDATION_FAILED', { claim: 'sub', reason: 'check_failed' }), 'malformed']
    ]
    for (const [source, reason] of cases) {
      t.match(toAuthError(source), { code: 'AUTH_INVALID', statusCode: 401, reason }, `${source.message} → ${reason}`)
    }
  })

  t.test('anything else → AUTH_INVALID (malformed)', async (t) => {
    for (const code of ['ERR_JOSE_NOT_SUPPORTED', 'ECONNRESET', 'toString', 'constructor']) {
      t.match(toAuthError(joseError(code)), { code: 'AUTH_INVALID', statusCode: 401, reason: 'malformed' }, code)
    }
    for (const value of [new Error('no code'), null, undefined, 'a string', 42, {}]) {
      t.match(toAuthError(value), { code: 'AUTH_INVALID', statusCode: 401, reason: 'malformed' }, String(value))
    }
  })

  t.test('catalogue errors pass through unchanged', async (t) => {
    for (const code of ['JWKS_UNAVAILABLE', 'AUTH_INVALID', 'AUTH_NO_CALLER'] as const) {
      const original = brokerError(code, { retryAfterSeconds: 5 })
      t.equal(toAuthError(original), original, code)
    }
  })

  t.test('every reason is in the closed set', async (t) => {
    t.ok(AUTH_REASONS.includes('audience'))
    t.equal(new Set(AUTH_REASONS).size, AUTH_REASONS.length, 'no duplicates')
  })
})

t.test('the verifier pins the algorithm, issuer and audience, requires exp, takes the skew in seconds', async (t) => {
  const clock = fakeClock()
  const verify = createCallerVerifier(HS256, clock)
  const at = Math.floor(clock.now() / 1000)
  const token = (claims: Record<string, unknown>, expiresIn: number | null = at + 300) =>
    callerToken('portal-bff', { claims: { iat: at, ...claims }, expiresIn: expiresIn as number })

  t.match(await verify(await token({})), { caller: 'portal-bff', roles: [], expiresAt: (at + 300) * 1000 })
  const key = await signingKey('key-1')
  t.match(await rejectionOf(t, verify(await rs256(key, {}, clock))), { code: 'AUTH_INVALID', reason: 'algorithm' })
  t.match(await rejectionOf(t, verify(await token({ iss: 'https://other.test/' }))), { reason: 'issuer' })
  t.match(await rejectionOf(t, verify(await token({ aud: 'api://other' }))), { reason: 'audience' })
  t.match(await rejectionOf(t, verify(await token({}, null))), { code: 'AUTH_INVALID', reason: 'missing_claim' })

  t.match(await verify(await token({}, at - 30)), { caller: 'portal-bff' }, 'expired within the 60 s skew')
  t.match(await rejectionOf(t, verify(await token({}, at - 61))), { code: 'AUTH_EXPIRED', reason: 'expired' })
  const noSkew = createCallerVerifier({ ...HS256, clockSkewSeconds: 0 }, clock)
  t.match(await rejectionOf(t, noSkew(await token({}, at))), { code: 'AUTH_EXPIRED' }, 'no skew: exp is the end')
  const wideSkew = createCallerVerifier({ ...HS256, clockSkewSeconds: 300 }, clock)
  t.match(await wideSkew(await token({}, at - 200)), { caller: 'portal-bff' }, '300 s of skew')
})

t.test('HS256: the secret is read per verification, so a rotated AUTH_JWT_SECRET_FILE applies at once', async (t) => {
  let secret = TEST_SECRET
  const verify = createCallerVerifier({ ...HS256, secret: () => secret }, systemClock)
  const rotated = 'a-rotated-hs256-secret-of-at-least-32-characters'
  t.match(await verify(await callerToken('portal-bff')), { caller: 'portal-bff' })
  secret = rotated
  const old = await callerToken('portal-bff')
  t.match(await rejectionOf(t, verify(old)), { reason: 'signature' }, 'the old secret fails')
  t.match(await verify(await callerToken('portal-bff', { secret: rotated })), { caller: 'portal-bff' }, 'the new one')
})

t.test('lists: iss is one of the issuers, aud (a string or an array) contains one of the audiences', async (t) => {
  const verify = createCallerVerifier(
    { ...HS256, issuers: ['https://sts.windows.net/t/', TEST_ISSUER], audiences: ['api://a', 'api://b'] },
    systemClock
  )
  const token = (claims: Record<string, unknown>) => callerToken('portal-bff', { claims })
  for (const [iss, aud] of [
    ['https://sts.windows.net/t/', 'api://a'],
    [TEST_ISSUER, 'api://b'],
    [TEST_ISSUER, ['api://x', 'api://b']]
  ] as const) {
    t.match(await verify(await token({ iss, aud })), { caller: 'portal-bff' }, `${iss} for ${JSON.stringify(aud)}`)
  }
  t.match(await rejectionOf(t, verify(await token({ aud: ['api://x', 'api://y'] }))), { reason: 'audience' })
  t.match(await rejectionOf(t, verify(await token({ aud: 'api://a,api://b' }))), { reason: 'audience' })
  t.match(await rejectionOf(t, verify(await token({ aud: 'api://a', iss: 'https://sts.windows.net/t' }))), {
    reason: 'issuer'
  })
})

t.test('registered claims: NumericDates, an issue time not ahead of now, and a bounded lifetime', async (t) => {
  const clock = fakeClock()
  const verify = createCallerVerifier({ ...HS256, clockSkewSeconds: 0 }, clock)
  const at = Math.floor(clock.now() / 1000)
  const token = (claims: Record<string, unknown>, exp: number | null = at + 3600) =>
    callerToken('portal-bff', { claims: { iat: at, ...claims }, expiresIn: exp as number })
  const cases: Array<[string, Promise<string>, string]> = [
    ['iat a string', token({ iat: String(at) }), 'claim_type'],
    ['nbf a string', token({ nbf: String(at) }), 'claim_type'],
    ['exp a string', token({ exp: String(at + 60) }, null), 'claim_type'],
    ['nbf ahead', token({ nbf: at + 1 }), 'not_yet_valid'],
    ['iat ahead', token({ iat: at + 1 }), 'not_yet_valid'],
    ['exp − iat over a day', token({ iat: at - 60 }, at + 86_400), 'lifetime'],
    ['exp − now over a day, no iat', token({ iat: undefined }, at + 86_401), 'lifetime']
  ]
  for (const [name, pending, reason] of cases) {
    t.match(await rejectionOf(t, verify(await pending)), { code: 'AUTH_INVALID', statusCode: 401, reason }, name)
  }
  t.match(await verify(await token({}, at + 86_400)), { caller: 'portal-bff' }, 'exactly a day')
  t.match(await verify(await token({ iat: undefined, nbf: at })), { caller: 'portal-bff' }, 'no iat at all')
  const hour = createCallerVerifier({ ...HS256, maxLifetimeSeconds: 3600 }, clock)
  t.match(await rejectionOf(t, hour(await token({}, at + 3601))), { reason: 'lifetime' }, 'the configured maximum')
})

t.test('roles: an array of strings, or absent', async (t) => {
  const verify = createCallerVerifier(HS256, systemClock)
  const token = (roles: unknown) => callerToken('portal-bff', { claims: { roles } })
  t.same((await verify(await token(['Tokens.Video', 'Tokens.Project']))).roles, ['Tokens.Video', 'Tokens.Project'])
  t.same((await verify(await token(undefined))).roles, [])
  const malformed = ['Tokens.Video', [42], [''], ['x'.repeat(257)], { 0: 'Tokens.Video' }, null, Array(257).fill('r')]
  for (const roles of malformed) {
    t.match(await rejectionOf(t, verify(await token(roles))), { code: 'AUTH_INVALID', reason: 'claim_type' })
  }
})

t.test('Entra mode: tid must be the tenant', async (t) => {
  const key = await signingKey('key-1')
  const { uri } = await jwksServer(t, [key.jwk])
  const tenantId = '72f988bf-86f1-41af-91ab-2d7cd011db47'
  const entra: Auth = { mode: 'entra', tenantId, jwksUri: uri, jwksTimeoutMs: 2000, jwksCooldownMs: 0, ...COMMON }
  const verify = createCallerVerifier(entra, systemClock)
  t.match(await verify(await rs256(key, { tid: tenantId })), { caller: 'admin-bff' })
  for (const tid of [undefined, 'c0ffee00-0000-0000-0000-000000000000', tenantId.toUpperCase(), [tenantId]]) {
    t.match(await rejectionOf(t, verify(await rs256(key, { tid }))), { code: 'AUTH_INVALID', reason: 'tenant' })
  }
})

t.test('the JWKS key resolver', async (t) => {
  const [k1, k2] = await Promise.all([signingKey('key-1'), signingKey('key-2')])
  const verifierFor = (auth: Auth) => createCallerVerifier(auth, systemClock)

  t.test('verifies with the key named by kid', async (t) => {
    const { state, uri } = await jwksServer(t, [k1.jwk, k2.jwk])
    const verify = verifierFor(jwksAuth(uri))
    t.match(await verify(await rs256(k1)), { caller: 'admin-bff' })
    t.match(await verify(await rs256(k2, { azp: 'portal-bff' })), { caller: 'portal-bff' })
    t.match(await verify(await rs256(k1)), { caller: 'admin-bff' }, 'the same key again')
    t.equal(state.hits, 1, 'the JWKS is fetched once and cached')
  })

  t.test('concurrent lookups share one fetch', async (t) => {
    const { state, uri } = await jwksServer(t, [k1.jwk])
    const verify = verifierFor(jwksAuth(uri))
    const tokens = await Promise.all(Array.from({ length: 5 }, () => rs256(k1)))
    const callers = await Promise.all(tokens.map((token) => verify(token)))
    t.same(new Set(callers.map((c) => c.caller)), new Set(['admin-bff']))
    t.equal(state.hits, 1)
  })

  t.test('a token whose alg is not RS256 is refused without fetching', async (t) => {
    const { state, uri } = await jwksServer(t, [k1.jwk])
    const verify = verifierFor(jwksAuth(uri))
    for (const alg of ['HS256', 'none', 'RS384', 'PS256', 'ES256']) {
      const error = await rejectionOf(t, verify(unsigned({ alg, kid: 'key-1' })))
      t.match(error, { code: 'AUTH_INVALID', statusCode: 401, reason: 'algorithm' }, alg)
    }
    t.equal(state.hits, 0, 'the JWKS was never fetched')
  })

  t.test('an unknown kid is AUTH_INVALID, with at most one refetch within the cooldown', async (t) => {
    const { state, uri } = await jwksServer(t, [k1.jwk])
    const verify = verifierFor(jwksAuth(uri, { jwksCooldownMs: 30_000 }))
    t.match(await verify(await rs256(k1)), { caller: 'admin-bff' })
    const before = state.hits
    for (const kid of ['unknown-1', 'unknown-2', 'unknown-1', 'unknown-3']) {
      const error = await rejectionOf(t, verify(await rs256(await signingKey(kid))))
      t.match(error, { code: 'AUTH_INVALID', statusCode: 401, reason: 'unknown_kid' }, kid)
      t.match(error.cause, { code: 'ERR_JWKS_NO_MATCHING_KEY' })
    }
    t.ok(state.hits - before <= 1, `unknown kids caused ${state.hits - before} refetch(es)`)
  })

  t.test('a token without kid and several candidate keys is AUTH_INVALID', async (t) => {
    const { uri } = await jwksServer(t, [k1.jwk, k2.jwk])
    const error = await rejectionOf(t, verifierFor(jwksAuth(uri))(unsigned({ alg: 'RS256' })))
    t.match(error, { code: 'AUTH_INVALID', statusCode: 401, reason: 'unknown_kid' })
    t.match(error.cause, { code: 'ERR_JWKS_MULTIPLE_MATCHING_KEYS' })
  })

  t.test('a token signed by another key under a known kid fails its signature', async (t) => {
    const { uri } = await jwksServer(t, [k1.jwk])
    const stranger = await signingKey('key-1')
    const error = await rejectionOf(t, verifierFor(jwksAuth(uri))(await rs256(stranger)))
    t.match(error, { code: 'AUTH_INVALID', reason: 'signature' })
  })

  t.test('a rotated-in key is found once the cooldown has passed', async (t) => {
    const { state, uri } = await jwksServer(t, [k1.jwk])
    const verify = verifierFor(jwksAuth(uri, { jwksCooldownMs: 0 }))
    t.match(await verify(await rs256(k1)), { caller: 'admin-bff' })
    state.keys = [k1.jwk, k2.jwk]
    t.match(await verify(await rs256(k2)), { caller: 'admin-bff' })
    t.equal(state.hits, 2, 'one refetch for the new kid')
  })

  t.test('a rotated-in key is not fetched again within the cooldown', async (t) => {
    const { state, uri } = await jwksServer(t, [k1.jwk])
    const verify = verifierFor(jwksAuth(uri, { jwksCooldownMs: 30_000 }))
    t.match(await verify(await rs256(k1)), { caller: 'admin-bff' })
    state.keys = [k1.jwk, k2.jwk]
    t.match(await rejectionOf(t, verify(await rs256(k2))), { code: 'AUTH_INVALID', reason: 'unknown_kid' })
    t.equal(state.hits, 1)
  })

  t.test('a JWKS answering 500 is JWKS_UNAVAILABLE with retryAfterSeconds', async (t) => {
    const { state, uri } = await jwksServer(t, [k1.jwk])
    state.behaviour = 'fail-500'
    const error = await rejectionOf(t, verifierFor(jwksAuth(uri))(await rs256(k1)))
    t.match(error, { code: 'JWKS_UNAVAILABLE', statusCode: 503, reason: 'jwks_unavailable' })
    t.type(error.retryAfterSeconds, 'number')
    t.ok(error.retryAfterSeconds! > 0)
    t.ok(error.cause, 'keeps the fetch error as cause')
  })

  t.test('a JWKS that does not answer in time is JWKS_UNAVAILABLE', async (t) => {
    const { state, uri } = await jwksServer(t, [k1.jwk])
    state.behaviour = 'hang'
    const lookup = verifierFor(jwksAuth(uri, { jwksTimeoutMs: 200 }))(await rs256(k1))
    // A guard far above the 200 ms timeout, so a missing timeout fails here rather than at tap's test timeout.
    let guard: NodeJS.Timeout | undefined
    const outcome = await Promise.race([
      lookup.then(
        () => 'resolved',
        (error: unknown) => error
      ),
      new Promise((resolve) => (guard = setTimeout(resolve, 10_000, 'still pending')))
    ])
    clearTimeout(guard)
    t.not(outcome, 'still pending', 'the lookup settled')
    t.match(outcome, { code: 'JWKS_UNAVAILABLE', statusCode: 503 })
    t.type((outcome as BrokerError).retryAfterSeconds, 'number')
    t.match((outcome as BrokerError).cause, { code: 'ERR_JWKS_TIMEOUT' })
    t.equal(state.hits, 1)
  })

  t.test('an unreachable JWKS is JWKS_UNAVAILABLE', async (t) => {
    const closed = createServer()
    await new Promise<void>((resolve) => closed.listen(0, '127.0.0.1', resolve))
    const { port } = closed.address() as AddressInfo
    await new Promise((resolve) => closed.close(resolve))
    const error = await rejectionOf(t, verifierFor(jwksAuth(`http://127.0.0.1:${port}/jwks`))(await rs256(k1)))
    t.match(error, { code: 'JWKS_UNAVAILABLE', statusCode: 503 })
    t.type(error.retryAfterSeconds, 'number')
  })

  t.test('a response that is not a JWKS is JWKS_UNAVAILABLE', async (t) => {
    const { uri } = await jwksServer(t, { not: 'a jwks' } as unknown as JWK[])
    const error = await rejectionOf(t, verifierFor(jwksAuth(uri))(await rs256(k1)))
    t.match(error, { code: 'JWKS_UNAVAILABLE', statusCode: 503 })
  })
})

t.test('end to end (HS256): header to caller', async (t) => {
  const verifier = createCallerVerifier(HS256, systemClock)
  const verify = async (authorization?: string) => {
    try {
      return { caller: (await verifier(bearerToken(authorization))).caller }
    } catch (error) {
      const mapped = toAuthError(error)
      return { code: mapped.code, statusCode: mapped.statusCode }
    }
  }
  const now = Math.floor(Date.now() / 1000)
  const bearer = async (...args: Parameters<typeof callerToken>) => `Bearer ${await callerToken(...args)}`

  t.same(await verify(await bearer('portal-bff')), { caller: 'portal-bff' }, 'a valid token')
  t.same(await verify(), { code: 'AUTH_REQUIRED', statusCode: 401 }, 'no Authorization header')
  t.same(await verify('Basic dXNlcjpwYXNz'), { code: 'AUTH_REQUIRED', statusCode: 401 }, 'not a bearer token')
  t.same(await verify('Bearer not.a.jwt'), { code: 'AUTH_INVALID', statusCode: 401 }, 'a malformed token')
  t.same(
    await verify(await bearer('portal-bff', { expiresIn: now - 600 })),
    { code: 'AUTH_EXPIRED', statusCode: 401 },
    'expired beyond the skew'
  )
  t.same(
    await verify(await bearer('portal-bff', { expiresIn: now - 30 })),
    { caller: 'portal-bff' },
    'expired within the 60 s skew'
  )
  t.same(
    await verify(await bearer('portal-bff', { secret: 'another-secret-that-is-32-bytes-long!!' })),
    { code: 'AUTH_INVALID', statusCode: 401 },
    'a wrong signature'
  )
  t.same(
    await verify(await bearer('portal-bff', { claims: { iss: 'https://other.test/' } })),
    { code: 'AUTH_INVALID', statusCode: 401 },
    'a wrong issuer'
  )
  t.same(
    await verify(await bearer('portal-bff', { claims: { aud: 'api://other' } })),
    { code: 'AUTH_INVALID', statusCode: 401 },
    'a wrong audience'
  )
  t.same(
    await verify(await bearer('portal-bff', { expiresIn: null as unknown as string })),
    { code: 'AUTH_INVALID', statusCode: 401 },
    'no exp claim'
  )
})

t.test('end to end (JWKS)', async (t) => {
  const key = await signingKey('key-1')
  const { state, uri } = await jwksServer(t, [key.jwk])
  const verifier = createCallerVerifier(jwksAuth(uri), systemClock)
  const verify = async (token: string) => {
    try {
      return { caller: (await verifier(token)).caller }
    } catch (error) {
      const mapped = toAuthError(error)
      return { code: mapped.code, statusCode: mapped.statusCode }
    }
  }

  t.same(await verify(await rs256(key)), { caller: 'admin-bff' }, 'a valid RS256 token')
  const hs256 = await callerToken('admin-bff')
  t.same(await verify(hs256), { code: 'AUTH_INVALID', statusCode: 401 }, 'an HS256 token is refused')
  const stranger = await signingKey('key-1')
  t.same(await verify(await rs256(stranger)), { code: 'AUTH_INVALID', statusCode: 401 }, 'another key, same kid')
  state.behaviour = 'fail-500'
  const unknownKid = await rs256(await signingKey('key-9'))
  t.same(await verify(unknownKid), { code: 'AUTH_INVALID', statusCode: 401 }, 'an unknown kid within the cooldown')
})

t.test('end to end: JWKS_UNAVAILABLE reaches the caller as a 503', async (t) => {
  const key = await signingKey('key-1')
  const { state, uri } = await jwksServer(t, [key.jwk])
  state.behaviour = 'fail-500'
  const error = await rejectionOf(t, createCallerVerifier(jwksAuth(uri), systemClock)(await rs256(key)))
  t.match(error, { code: 'JWKS_UNAVAILABLE', statusCode: 503 })
})
