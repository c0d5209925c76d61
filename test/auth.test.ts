import { createPublicKey, type JsonWebKey } from 'node:crypto'
import { createServer, type Server } from 'node:http'
import type { AddressInfo } from 'node:net'
import fastifyJwt, { type TokenOrHeader } from '@fastify/jwt'
import Fastify, { type FastifyRequest } from 'fastify'
import { exportJWK, generateKeyPair, SignJWT, type CryptoKey, type JWK } from 'jose'
import t, { type Test } from 'tap'
import { callerIdFrom, jwtOptions, toAuthError } from '../src/auth.js'
import type { AuthConfig } from '../src/config.js'
import { brokerError, isBrokerError, type BrokerError } from '../src/errors.js'
import { callerToken, TEST_AUDIENCE, TEST_ISSUER, TEST_SECRET } from './support/tokens.js'

type KeyResolver = (request: FastifyRequest, token: TokenOrHeader) => Promise<string>

const COMMON = {
  issuer: TEST_ISSUER,
  audience: TEST_AUDIENCE,
  callerClaims: ['azp', 'appid', 'sub'],
  clockSkewSeconds: 60
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

const resolverFor = (auth: Auth) => jwtOptions(auth).secret as unknown as KeyResolver
const REQUEST = {} as FastifyRequest
const header = (kid: string | undefined, alg = 'RS256') =>
  ({ header: { alg, kid }, payload: {} }) as unknown as TokenOrHeader

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
  pem: string
}

async function signingKey (kid: string): Promise<SigningKey> {
  const { publicKey, privateKey } = await generateKeyPair('RS256')
  const jwk: JWK = { ...(await exportJWK(publicKey)), kid, alg: 'RS256', use: 'sig' }
  const pem = createPublicKey({ key: jwk as JsonWebKey, format: 'jwk' }).export({
    type: 'spki',
    format: 'pem'
  }) as string
  return { kid, privateKey, jwk, pem }
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

  t.test('skips empty, too long and non-string values', async (t) => {
    for (const unusable of ['', 'x'.repeat(257), 42, true, null, ['portal-bff'], { id: 'portal-bff' }]) {
      t.equal(
        callerIdFrom({ azp: unusable, sub: 'subject' }, claimNames),
        'subject',
        `skips ${JSON.stringify(unusable)}`
      )
    }
  })

  t.test('accepts a value of exactly 256 characters', async (t) => {
    const longest = 'c'.repeat(256)
    t.equal(callerIdFrom({ azp: longest }, claimNames), longest)
  })

  t.test('does not read inherited properties as claims', async (t) => {
    t.throws(() => callerIdFrom({}, ['constructor', 'toString', '__proto__']), { code: 'AUTH_NO_CALLER' })
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

t.test('toAuthError', async (t) => {
  const withCode = (code: string) => Object.assign(new Error(code), { code })

  t.test('no token → AUTH_REQUIRED', async (t) => {
    const source = withCode('FST_JWT_NO_AUTHORIZATION_IN_HEADER')
    const error = toAuthError(source)
    t.match(error, { code: 'AUTH_REQUIRED', statusCode: 401 })
    t.equal(error.cause, source, 'keeps the original error as cause')
  })

  t.test('expired token → AUTH_EXPIRED', async (t) => {
    for (const code of ['FST_JWT_AUTHORIZATION_TOKEN_EXPIRED', 'FAST_JWT_EXPIRED']) {
      t.match(toAuthError(withCode(code)), { code: 'AUTH_EXPIRED', statusCode: 401 }, code)
    }
  })

  t.test('anything else → AUTH_INVALID', async (t) => {
    for (const code of [
      'FST_JWT_AUTHORIZATION_TOKEN_INVALID',
      'FST_JWT_AUTHORIZATION_TOKEN_UNTRUSTED',
      'FST_JWT_BAD_REQUEST',
      'FAST_JWT_MALFORMED',
      'FAST_JWT_INVALID_SIGNATURE',
      'FAST_JWT_MISSING_SIGNATURE',
      'ECONNRESET'
    ]) {
      t.match(toAuthError(withCode(code)), { code: 'AUTH_INVALID', statusCode: 401 }, code)
    }
    for (const value of [new Error('no code'), null, undefined, 'a string', 42, {}]) {
      t.match(toAuthError(value), { code: 'AUTH_INVALID', statusCode: 401 }, String(value))
    }
  })

  t.test('catalogue errors pass through unchanged', async (t) => {
    for (const code of ['JWKS_UNAVAILABLE', 'AUTH_INVALID', 'AUTH_NO_CALLER'] as const) {
      const original = brokerError(code, { retryAfterSeconds: 5 })
      t.equal(toAuthError(original), original, code)
    }
  })
})

t.test('jwtOptions', async (t) => {
  t.test('HS256 mode', async (t) => {
    let secret = TEST_SECRET
    const options = jwtOptions({ ...HS256, secret: () => secret })
    const resolve = options.secret as unknown as KeyResolver
    t.equal(await resolve(REQUEST, header(undefined, 'HS256')), TEST_SECRET)
    secret = 'a-rotated-hs256-secret-of-at-least-32-characters'
    t.equal(await resolve(REQUEST, header(undefined, 'HS256')), secret, 'read per verification: a rotation applies')
    t.same(options.decode, { complete: true })
    t.same(options.verify, {
      algorithms: ['HS256'],
      allowedIss: TEST_ISSUER,
      allowedAud: TEST_AUDIENCE,
      requiredClaims: ['exp'],
      clockTolerance: 60_000,
      cache: true
    })
  })

  t.test('JWKS mode', async (t) => {
    const options = jwtOptions(jwksAuth('https://login.example/keys'))
    t.type(options.secret, 'function', 'keys are resolved per token')
    t.same(options.decode, { complete: true })
    t.same(options.verify, {
      algorithms: ['RS256'],
      allowedIss: TEST_ISSUER,
      allowedAud: TEST_AUDIENCE,
      requiredClaims: ['exp'],
      clockTolerance: 60_000,
      cache: true
    })
  })

  t.test('the clock tolerance is the configured skew in milliseconds', async (t) => {
    t.equal(jwtOptions({ ...HS256, clockSkewSeconds: 0 }).verify?.clockTolerance, 0)
    t.equal(jwtOptions({ ...HS256, clockSkewSeconds: 300 }).verify?.clockTolerance, 300_000)
  })
})

t.test('the JWKS key resolver', async (t) => {
  const [k1, k2] = await Promise.all([signingKey('key-1'), signingKey('key-2')])

  t.test('returns the PEM of the key named by kid', async (t) => {
    const { state, uri } = await jwksServer(t, [k1.jwk, k2.jwk])
    const resolve = resolverFor(jwksAuth(uri))
    t.equal(await resolve(REQUEST, header('key-1')), k1.pem)
    t.equal(await resolve(REQUEST, header('key-2')), k2.pem)
    t.match(k1.pem, /^-----BEGIN PUBLIC KEY-----\n/)
    t.equal(await resolve(REQUEST, header('key-1')), k1.pem, 'the same PEM again')
    t.equal(state.hits, 1, 'the JWKS is fetched once and cached')
  })

  t.test('concurrent lookups share one fetch', async (t) => {
    const { state, uri } = await jwksServer(t, [k1.jwk])
    const resolve = resolverFor(jwksAuth(uri))
    const pems = await Promise.all(Array.from({ length: 5 }, () => resolve(REQUEST, header('key-1'))))
    t.same(new Set(pems), new Set([k1.pem]))
    t.equal(state.hits, 1)
  })

  t.test('a token whose alg is not RS256 is refused without fetching', async (t) => {
    const { state, uri } = await jwksServer(t, [k1.jwk])
    const resolve = resolverFor(jwksAuth(uri))
    for (const alg of ['HS256', 'none', 'RS384', 'PS256', 'ES256']) {
      const error = await rejectionOf(t, resolve(REQUEST, header('key-1', alg)))
      t.match(error, { code: 'AUTH_INVALID', statusCode: 401 }, alg)
    }
    t.equal(state.hits, 0, 'the JWKS was never fetched')
  })

  t.test('an unknown kid is AUTH_INVALID, with at most one refetch within the cooldown', async (t) => {
    const { state, uri } = await jwksServer(t, [k1.jwk])
    const resolve = resolverFor(jwksAuth(uri, { jwksCooldownMs: 30_000 }))
    t.equal(await resolve(REQUEST, header('key-1')), k1.pem)
    const before = state.hits
    for (const kid of ['unknown-1', 'unknown-2', 'unknown-1', 'unknown-3']) {
      const error = await rejectionOf(t, resolve(REQUEST, header(kid)))
      t.match(error, { code: 'AUTH_INVALID', statusCode: 401 }, kid)
      t.match(error.cause, { code: 'ERR_JWKS_NO_MATCHING_KEY' })
    }
    t.ok(state.hits - before <= 1, `unknown kids caused ${state.hits - before} refetch(es)`)
  })

  t.test('a token without kid and several candidate keys is AUTH_INVALID', async (t) => {
    const { uri } = await jwksServer(t, [k1.jwk, k2.jwk])
    const error = await rejectionOf(t, resolverFor(jwksAuth(uri))(REQUEST, header(undefined)))
    t.match(error, { code: 'AUTH_INVALID', statusCode: 401 })
    t.match(error.cause, { code: 'ERR_JWKS_MULTIPLE_MATCHING_KEYS' })
  })

  t.test('a rotated-in key is found once the cooldown has passed', async (t) => {
    const { state, uri } = await jwksServer(t, [k1.jwk])
    const resolve = resolverFor(jwksAuth(uri, { jwksCooldownMs: 0 }))
    t.equal(await resolve(REQUEST, header('key-1')), k1.pem)
    state.keys = [k1.jwk, k2.jwk]
    t.equal(await resolve(REQUEST, header('key-2')), k2.pem)
    t.equal(state.hits, 2, 'one refetch for the new kid')
  })

  t.test('a rotated-in key is not fetched again within the cooldown', async (t) => {
    const { state, uri } = await jwksServer(t, [k1.jwk])
    const resolve = resolverFor(jwksAuth(uri, { jwksCooldownMs: 30_000 }))
    t.equal(await resolve(REQUEST, header('key-1')), k1.pem)
    state.keys = [k1.jwk, k2.jwk]
    t.match(await rejectionOf(t, resolve(REQUEST, header('key-2'))), { code: 'AUTH_INVALID' })
    t.equal(state.hits, 1)
  })

  t.test('a JWKS answering 500 is JWKS_UNAVAILABLE with retryAfterSeconds', async (t) => {
    const { state, uri } = await jwksServer(t, [k1.jwk])
    state.behaviour = 'fail-500'
    const error = await rejectionOf(t, resolverFor(jwksAuth(uri))(REQUEST, header('key-1')))
    t.match(error, { code: 'JWKS_UNAVAILABLE', statusCode: 503 })
    t.type(error.retryAfterSeconds, 'number')
    t.ok(error.retryAfterSeconds! > 0)
    t.ok(error.cause, 'keeps the fetch error as cause')
  })

  t.test('a JWKS that does not answer in time is JWKS_UNAVAILABLE', async (t) => {
    const { state, uri } = await jwksServer(t, [k1.jwk])
    state.behaviour = 'hang'
    const lookup = resolverFor(jwksAuth(uri, { jwksTimeoutMs: 200 }))(REQUEST, header('key-1'))
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
    const error = await rejectionOf(t, resolverFor(jwksAuth(`http://127.0.0.1:${port}/jwks`))(REQUEST, header('key-1')))
    t.match(error, { code: 'JWKS_UNAVAILABLE', statusCode: 503 })
    t.type(error.retryAfterSeconds, 'number')
  })

  t.test('a response that is not a JWKS is JWKS_UNAVAILABLE', async (t) => {
    const { uri } = await jwksServer(t, { not: 'a jwks' } as unknown as JWK[])
    const error = await rejectionOf(t, resolverFor(jwksAuth(uri))(REQUEST, header('key-1')))
    t.match(error, { code: 'JWKS_UNAVAILABLE', statusCode: 503 })
  })
})

/**
 * Verifies the request's bearer token the way the app does: @fastify/jwt with jwtOptions,
 * errors through toAuthError.
 */
async function verifyingApp (t: Test, auth: Auth) {
  const app = Fastify()
  t.teardown(() => app.close())
  await app.register(fastifyJwt, jwtOptions(auth))
  app.get('/', async (request) => {
    try {
      const claims = await request.jwtVerify<Record<string, unknown>>()
      return { caller: callerIdFrom(claims, auth.callerClaims) }
    } catch (error) {
      const mapped = toAuthError(error)
      return { code: mapped.code, statusCode: mapped.statusCode }
    }
  })
  return async (authorization?: string) => {
    const response = await app.inject({ method: 'GET', url: '/', headers: authorization ? { authorization } : {} })
    return response.json() as { caller?: string; code?: string; statusCode?: number }
  }
}

t.test('through @fastify/jwt (HS256)', async (t) => {
  const verify = await verifyingApp(t, HS256)
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

t.test('through @fastify/jwt (JWKS)', async (t) => {
  const key = await signingKey('key-1')
  const { state, uri } = await jwksServer(t, [key.jwk])
  const verify = await verifyingApp(t, jwksAuth(uri))
  const sign = (claims: Record<string, unknown> = {}, signWith = key) =>
    new SignJWT({ iss: TEST_ISSUER, aud: TEST_AUDIENCE, azp: 'admin-bff', ...claims })
      .setProtectedHeader({ alg: 'RS256', kid: signWith.kid })
      .setIssuedAt()
      .setExpirationTime('5m')
      .sign(signWith.privateKey)

  t.same(await verify(`Bearer ${await sign()}`), { caller: 'admin-bff' }, 'a valid RS256 token')
  const hs256 = await callerToken('admin-bff')
  t.same(await verify(`Bearer ${hs256}`), { code: 'AUTH_INVALID', statusCode: 401 }, 'an HS256 token is refused')
  const stranger = await signingKey('key-1')
  t.same(
    await verify(`Bearer ${await sign({}, stranger)}`),
    { code: 'AUTH_INVALID', statusCode: 401 },
    'signed by another key with the same kid'
  )
  state.behaviour = 'fail-500'
  const unknownKid = await sign({}, await signingKey('key-9'))
  t.same(
    await verify(`Bearer ${unknownKid}`),
    { code: 'AUTH_INVALID', statusCode: 401 },
    'an unknown kid within the cooldown'
  )
})

t.test('through @fastify/jwt: JWKS_UNAVAILABLE reaches the caller as a 503', async (t) => {
  const key = await signingKey('key-1')
  const { state, uri } = await jwksServer(t, [key.jwk])
  state.behaviour = 'fail-500'
  const verify = await verifyingApp(t, jwksAuth(uri))
  const token = await new SignJWT({ iss: TEST_ISSUER, aud: TEST_AUDIENCE, azp: 'admin-bff' })
    .setProtectedHeader({ alg: 'RS256', kid: 'key-1' })
    .setExpirationTime('5m')
    .sign(key.privateKey)
  t.same(await verify(`Bearer ${token}`), { code: 'JWKS_UNAVAILABLE', statusCode: 503 })
})
