// Hostile caller JWTs against the broker on a real loopback socket, in Entra mode against the emulator's
// tenant (RS256 through its discovery keys). Every case asserts the exact status and catalogue code, a
// client-side deadline, and (through build()'s teardown and explicit checks) that the offered token
// reaches no log line.
import { createPublicKey, randomBytes, randomUUID } from 'node:crypto'
import { generateKeyPair, SignJWT, type JWTPayload } from 'jose'
import t from 'tap'
import { build, emulatorFor } from '../helper.js'
import {
  assertError,
  assertLogHygiene,
  assertNotLogged,
  rawRequest,
  socketRequest,
  Tally,
  type RawResponse
} from './support/hostile.js'

const emulator = await emulatorFor(t)
const broker = await build(t, { emulator })
const { logs } = broker
const baseUrl = await broker.app.listen({ port: 0, host: '127.0.0.1' })
const tally = new Tally()
const VIDEO = '/tokens/video/abc123'

const portal = await emulator.mintCallerToken('portal-bff')
const admin = await emulator.mintCallerToken('admin-bff')
logs.secret(portal)
logs.secret(admin)

const jwks = (await (await fetch(emulator.jwksUri, { signal: AbortSignal.timeout(10_000) })).json()) as {
  keys: Array<Record<string, string>>
}
const jwk = jwks.keys[0] as Record<string, string>
const kid = jwk.kid as string
const b64 = (value: unknown) =>
  Buffer.from(typeof value === 'string' ? value : JSON.stringify(value)).toString('base64url')
const now = () => Math.floor(Date.now() / 1000)
const goodClaims = (): JWTPayload => ({
  iss: emulator.issuer,
  aud: emulator.audience,
  azp: 'portal-bff',
  sub: 'portal-bff',
  iat: now(),
  exp: now() + 600
})
const [portalHeader, portalPayload, portalSignature] = portal.split('.') as [string, string, string]

/** GET with the given Authorization values (one header line each); the token is registered as a secret. */
async function get (label: string, authorization: string[], path = VIDEO): Promise<RawResponse> {
  const headers: string[] = []
  for (const value of authorization) {
    logs.secret(value)
    logs.secret(value.replace(/^Bearer /, ''))
    headers.push('authorization', value)
  }
  const response = await rawRequest(baseUrl, { path, headers })
  tally.see(label, response.status)
  logs.secret(response.json?.accessToken)
  return response
}

t.test('sanity: a valid portal-bff token gets 200 over the socket', async (t) => {
  const response = await get('valid', [`Bearer ${portal}`])
  t.equal(response.status, 200)
  t.equal(response.json?.videoId, 'abc123')
})

t.test('forged, broken and out-of-policy JWTs: exact 401 codes with WWW-Authenticate', async (t) => {
  const publicPem = createPublicKey({ key: jwk as never, format: 'jwk' }).export({
    type: 'spki',
    format: 'pem'
  }) as string
  const pkcs1Pem = createPublicKey({ key: jwk as never, format: 'jwk' }).export({
    type: 'pkcs1',
    format: 'pem'
  }) as string
  const attacker = await generateKeyPair('RS256')
  const signWith = (claims: JWTPayload, header: Record<string, unknown>, key: Parameters<SignJWT['sign']>[0]) =>
    new SignJWT(claims).setProtectedHeader({ alg: 'RS256', ...header }).sign(key)

  const cases: Array<[string, string, number, string]> = [
    ['alg none, empty signature', `${b64({ alg: 'none', typ: 'JWT' })}.${b64(goodClaims())}.`, 401, 'AUTH_INVALID'],
    [
      'alg none, with kid and the real signature',
      `${b64({ alg: 'none', kid })}.${b64(goodClaims())}.${portalSignature}`,
      401,
      'AUTH_INVALID'
    ],
    ['alg None (mixed case)', `${b64({ alg: 'None', typ: 'JWT' })}.${b64(goodClaims())}.`, 401, 'AUTH_INVALID'],
    ['alg none, no signature segment', `${b64({ alg: 'none' })}.${b64(goodClaims())}`, 401, 'AUTH_INVALID'],
    [
      'RS256->HS256 confusion, spki PEM as the HMAC secret, same kid',
      await new SignJWT(goodClaims())
        .setProtectedHeader({ alg: 'HS256', kid, typ: 'JWT' })
        .sign(new TextEncoder().encode(publicPem)),
      401,
      'AUTH_INVALID'
    ],
    [
      'RS256->HS256 confusion, PEM without its trailing newline',
      await new SignJWT(goodClaims())
        .setProtectedHeader({ alg: 'HS256', kid })
        .sign(new TextEncoder().encode(publicPem.trimEnd())),
      401,
      'AUTH_INVALID'
    ],
    [
      'RS256->HS256 confusion, pkcs1 PEM',
      await new SignJWT(goodClaims())
        .setProtectedHeader({ alg: 'HS256', kid })
        .sign(new TextEncoder().encode(pkcs1Pem)),
      401,
      'AUTH_INVALID'
    ],
    [
      'unknown kid, signed by an attacker key',
      await signWith(goodClaims(), { kid: 'attacker-kid-0123456789' }, attacker.privateKey),
      401,
      'AUTH_INVALID'
    ],
    [
      'the JWKS kid, signed by an attacker key',
      await signWith(goodClaims(), { kid }, attacker.privateKey),
      401,
      'AUTH_INVALID'
    ],
    ['no kid, signed by an attacker key', await signWith(goodClaims(), {}, attacker.privateKey), 401, 'AUTH_INVALID'],
    [
      'unknown kid, real signature',
      `${b64({ alg: 'RS256', kid: 'no-such-kid-0123456789', typ: 'JWT' })}.${portalPayload}.${portalSignature}`,
      401,
      'AUTH_INVALID'
    ],
    ['missing exp', await emulator.mintCallerToken('portal-bff', { claims: { exp: null } }), 401, 'AUTH_INVALID'],
    [
      'nbf 10 minutes ahead (beyond the 60 s skew)',
      await emulator.mintCallerToken('portal-bff', { claims: { nbf: now() + 600 } }),
      401,
      'AUTH_INVALID'
    ],
    [
      'nbf 1 day ahead',
      await emulator.mintCallerToken('portal-bff', { claims: { nbf: now() + 86_400 } }),
      401,
      'AUTH_INVALID'
    ],
    [
      'expired an hour ago',
      await emulator.mintCallerToken('portal-bff', { expiresInSeconds: -3600 }),
      401,
      'AUTH_EXPIRED'
    ],
    [
      'expired 5 minutes ago (beyond the skew)',
      await emulator.mintCallerToken('portal-bff', { expiresInSeconds: -300 }),
      401,
      'AUTH_EXPIRED'
    ],
    [
      'wrong iss',
      await emulator.mintCallerToken('portal-bff', { claims: { iss: 'https://evil.example/v2.0' } }),
      401,
      'AUTH_INVALID'
    ],
    [
      'iss with a trailing slash',
      await emulator.mintCallerToken('portal-bff', { claims: { iss: `${emulator.issuer}/` } }),
      401,
      'AUTH_INVALID'
    ],
    [
      'wrong aud',
      await emulator.mintCallerToken('portal-bff', { claims: { aud: 'api://someone-else' } }),
      401,
      'AUTH_INVALID'
    ],
    [
      'aud as an array without ours',
      await emulator.mintCallerToken('portal-bff', { claims: { aud: ['api://a', 'api://b'] } }),
      401,
      'AUTH_INVALID'
    ],
    ['truncated signature', `${portalHeader}.${portalPayload}.${portalSignature.slice(0, -10)}`, 401, 'AUTH_INVALID'],
    [
      'signature cut in half',
      `${portalHeader}.${portalPayload}.${portalSignature.slice(0, portalSignature.length >> 1)}`,
      401,
      'AUTH_INVALID'
    ],
    [
      'garbage signature of the right length',
      `${portalHeader}.${portalPayload}.${randomBytes(256).toString('base64url')}`,
      401,
      'AUTH_INVALID'
    ],
    [
      'signature with non-base64url characters',
      `${portalHeader}.${portalPayload}.!!!not*base64~~~`,
      401,
      'AUTH_INVALID'
    ],
    [
      'tampered payload (azp admin-bff)',
      `${portalHeader}.${b64({ ...goodClaims(), azp: 'admin-bff' })}.${portalSignature}`,
      401,
      'AUTH_INVALID'
    ],
    ['header that is not JSON', `${b64('{"alg":"RS256",')}.${portalPayload}.${portalSignature}`, 401, 'AUTH_INVALID'],
    ['payload that is not JSON', `${portalHeader}.${b64('not json at all')}.${portalSignature}`, 401, 'AUTH_INVALID'],
    ['four segments', `${portal}.${portalSignature}`, 401, 'AUTH_INVALID'],
    [
      'JWE-shaped (five segments)',
      `${b64({ alg: 'RSA-OAEP', enc: 'A256GCM' })}.${'a'.repeat(40)}.${'b'.repeat(16)}` +
        `.${'c'.repeat(40)}.${'d'.repeat(22)}`,
      401,
      'AUTH_INVALID'
    ],
    [
      'header with crit',
      `${b64({ alg: 'RS256', kid, crit: ['exp'] })}.${portalPayload}.${portalSignature}`,
      401,
      'AUTH_INVALID'
    ],
    [
      'header with jku to an attacker',
      `${b64({ alg: 'RS256', kid: 'attacker-kid-0123456789', jku: 'http://127.0.0.1:1/jwks.json' })}.${portalPayload}.${portalSignature}`,
      401,
      'AUTH_INVALID'
    ]
  ]
  for (const [name, token, status, code] of cases) {
    const response = await get(name, [`Bearer ${token}`])
    assertError(t, response, status, code, name)
    assertNotLogged(t, logs, token, name)
  }
})

t.test('Entra claims: other tenants, misshapen caller ids and roles, long lives: each has a reason', async (t) => {
  const mint = (claims: Record<string, unknown>, version: 1 | 2 = 2) =>
    emulator.mintCallerToken('portal-bff', { version, claims })
  const attacker = await generateKeyPair('RS256')
  const cases: Array<[string, string, number, string, string]> = [
    ['alg none', `${b64({ alg: 'none', typ: 'JWT' })}.${b64(goodClaims())}.`, 401, 'AUTH_INVALID', 'algorithm'],
    [
      'unknown kid',
      await new SignJWT(goodClaims()).setProtectedHeader({ alg: 'RS256', kid: 'k-0' }).sign(attacker.privateKey),
      401,
      'AUTH_INVALID',
      'unknown_kid'
    ],
    [
      'the tenant kid, an attacker key',
      await new SignJWT(goodClaims()).setProtectedHeader({ alg: 'RS256', kid }).sign(attacker.privateKey),
      401,
      'AUTH_INVALID',
      'signature'
    ],
    [
      'another tenant',
      await emulator.mintCallerToken('portal-bff', { tenantId: randomUUID() }),
      401,
      'AUTH_INVALID',
      'issuer'
    ],
    ["another tenant's tid under our issuer", await mint({ tid: randomUUID() }), 401, 'AUTH_INVALID', 'tenant'],
    ['tid in upper case', await mint({ tid: emulator.tenantId.toUpperCase() }), 401, 'AUTH_INVALID', 'tenant'],
    ['tid an array', await mint({ tid: [emulator.tenantId] }), 401, 'AUTH_INVALID', 'tenant'],
    ['no tid', await mint({ tid: null }), 401, 'AUTH_INVALID', 'tenant'],
    ['v1 issuer, aud the client id', await mint({ iss: emulator.v1Issuer }), 200, '', ''],
    ['v1 token, aud the client id', await mint({ aud: emulator.brokerClientId }, 1), 200, '', ''],
    ['aud an array holding ours', await mint({ aud: ['api://other', emulator.brokerClientId] }), 200, '', ''],
    ['aud a scope', await mint({ aud: 'api://vi-token-broker/.default' }), 401, 'AUTH_INVALID', 'audience'],
    ['azp an array', await mint({ azp: ['portal-bff'] }), 401, 'AUTH_NO_CALLER', 'no_caller'],
    ['azp empty', await mint({ azp: '' }), 401, 'AUTH_NO_CALLER', 'no_caller'],
    ['azp an object', await mint({ azp: { id: 'portal-bff' } }), 401, 'AUTH_NO_CALLER', 'no_caller'],
    ['appid a number', await mint({ appid: 42 }, 1), 401, 'AUTH_NO_CALLER', 'no_caller'],
    ['appid 300 characters', await mint({ appid: 'p'.repeat(300) }, 1), 401, 'AUTH_NO_CALLER', 'no_caller'],
    ['roles a string', await mint({ roles: 'Tokens.Video' }), 401, 'AUTH_INVALID', 'claim_type'],
    ['roles of numbers', await mint({ roles: [1, 2] }), 401, 'AUTH_INVALID', 'claim_type'],
    ['roles, 300 of them', await mint({ roles: Array(300).fill('r') }), 401, 'AUTH_INVALID', 'claim_type'],
    ['iat a string', await mint({ iat: String(now()) }), 401, 'AUTH_INVALID', 'claim_type'],
    ['nbf an object', await mint({ nbf: { at: now() } }), 401, 'AUTH_INVALID', 'claim_type'],
    ['exp a string', await mint({ exp: String(now() + 600) }), 401, 'AUTH_INVALID', 'claim_type'],
    ['iat an hour ahead', await mint({ iat: now() + 3600, exp: now() + 7200 }), 401, 'AUTH_INVALID', 'not_yet_valid'],
    ['a year long', await mint({ exp: now() + 31_536_000 }), 401, 'AUTH_INVALID', 'lifetime'],
    ['issued a week ago, an hour left', await mint({ iat: now() - 7 * 86_400 }), 401, 'AUTH_INVALID', 'lifetime']
  ]
  for (const [index, [name, token, status, code, reason]] of cases.entries()) {
    logs.secret(token)
    const reqId = `entra-claims-${index}`
    const response = await rawRequest(baseUrl, {
      path: VIDEO,
      headers: ['authorization', `Bearer ${token}`, 'x-request-id', reqId]
    })
    tally.see(name, response.status)
    logs.secret(response.json?.accessToken)
    if (status === 200) {
      t.equal(response.status, 200, `${name}: 200`)
      continue
    }
    assertError(t, response, status, code, name)
    t.match(logs.audits.find((record) => record.reqId === reqId), { reason }, `${name}: audit reason ${reason}`)
    assertNotLogged(t, logs, token, name)
  }
})

t.test('a 10 KB token (under the header limit) gets 401 AUTH_INVALID', async (t) => {
  const padded =
    `${b64({ alg: 'RS256', kid, typ: 'JWT' })}.` +
    `${b64({ ...goodClaims(), pad: 'x'.repeat(7_000) })}.${portalSignature}`
  t.ok(padded.length > 9_500 && padded.length < 12_000, `JWT-shaped token of ${padded.length} chars`)
  assertError(t, await get('10 KB JWT-shaped', [`Bearer ${padded}`]), 401, 'AUTH_INVALID', '10 KB JWT-shaped token')
  const garbage = 'A'.repeat(10 * 1024)
  assertError(t, await get('10 KB garbage', [`Bearer ${garbage}`]), 401, 'AUTH_INVALID', '10 KB garbage token')
  assertNotLogged(t, logs, padded, '10 KB token')
})

t.test('a 100 KB token (over the 16 KB header limit) gets 431 HEADERS_TOO_LARGE (new)', async (t) => {
  const huge =
    `${b64({ alg: 'RS256', kid, typ: 'JWT' })}.` +
    `${b64({ ...goodClaims(), pad: 'y'.repeat(75_000) })}.${portalSignature}`
  t.ok(huge.length >= 100_000, `token of ${huge.length} chars`)
  logs.secret(huge)
  // A bare socket: the server answers 431 and resets while a node:http client would still be writing.
  const bytes = `GET ${VIDEO} HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer ${huge}\r\nConnection: close\r\n\r\n`
  const response = await socketRequest(baseUrl, bytes)
  tally.see('100 KB token', response.status)
  t.equal(response.status, 431, '100 KB token: status 431')
  t.equal(
    response.json?.error?.code,
    'HEADERS_TOO_LARGE',
    `100 KB token: JSON body code HEADERS_TOO_LARGE (got body ${response.body.slice(0, 200)})`
  )
  t.match(String(response.headers['content-type']), /application\/json/, '100 KB token: a JSON body')
  assertNotLogged(t, logs, huge.slice(-200), '100 KB token')
})

t.test(
  'unicode and control characters in azp/sub: 403 POLICY_DENIED, and every log line stays one line of JSON',
  async (t) => {
    const hostile: Array<[string, string]> = [
      ['newline', 'portal-bff\n'],
      ['newline with a forged audit record', 'x\n{"audit":true,"caller":"admin-bff","decision":"allow"}'],
      ['carriage return', 'portal-bff\r'],
      ['CRLF', 'portal-bff\r\nX-Injected: 1'],
      ['ANSI escape', '\u001b[31mportal-bff\u001b[0m'],
      ['NUL', 'portal-bff\u0000'],
      ['NUL only', '\u0000'],
      ['RTL override', '\u202Eportal-bff'],
      ['emoji', 'portal-bff\u{1F600}'],
      ['line separator U+2028', 'portal-bff\u2028'],
      ['lone surrogate', 'portal-bff\uD800'],
      ['zero-width joiner', 'portal\u200D-bff'],
      ['fullwidth lookalike', '\uFF50ortal-bff']
    ]
    const before = logs.raw.length
    for (const [name, value] of hostile) {
      const viaAzp = await emulator.mintCallerToken('x', { claims: { azp: value } })
      assertError(t, await get(`azp ${name}`, [`Bearer ${viaAzp}`]), 403, 'POLICY_DENIED', `azp ${name}`)
      const viaSub = await emulator.mintCallerToken('x', { claims: { azp: null, sub: value } })
      assertError(t, await get(`sub ${name}`, [`Bearer ${viaSub}`]), 403, 'POLICY_DENIED', `sub ${name}`)
      assertNotLogged(t, logs, viaAzp, `azp ${name}`)
      assertNotLogged(t, logs, viaSub, `sub ${name}`)
    }
    t.ok(logs.raw.length > before, 'the requests were logged')
    assertLogHygiene(t, logs, 'after hostile claims')
    // Not part of the contract (JSON leaves them raw), but worth knowing:
    // characters that some log viewers render oddly.
    const fresh = logs.raw.slice(before)
    for (const [name, ch] of [
      ['RTL override', '\u202E'],
      ['line separator U+2028', '\u2028'],
      ['emoji', '\u{1F600}'],
      ['U+FFFD', '\uFFFD']
    ] as const) {
      t.comment(`log lines holding a raw ${name}: ${fresh.filter((line) => line.includes(ch)).length}`)
    }
  }
)

t.test('duplicate Authorization headers get 401 AUTH_INVALID (new)', async (t) => {
  const cases: Array<[string, string[]]> = [
    ['two different valid Bearer values', [`Bearer ${portal}`, `Bearer ${admin}`]],
    ['valid then garbage', [`Bearer ${portal}`, 'Bearer garbage.garbage.garbage']],
    ['garbage then valid', ['Bearer garbage.garbage.garbage', `Bearer ${portal}`]],
    ['valid then Basic', [`Bearer ${portal}`, 'Basic dXNlcjpwYXNzd29yZA==']],
    ['the same valid value twice', [`Bearer ${portal}`, `Bearer ${portal}`]]
  ]
  for (const [name, values] of cases) {
    assertError(t, await get(`duplicate: ${name}`, values), 401, 'AUTH_INVALID', `duplicate: ${name}`)
  }
  // Folded into one line, as a proxy might do.
  assertError(
    t,
    await get('comma-folded', [`Bearer ${portal}, Bearer ${admin}`]),
    401,
    'AUTH_INVALID',
    'two Bearer values folded into one header'
  )
})

t.test('no log line holds any offered token, and every line is valid JSON', async (t) => {
  t.same(logs.leaks().length, 0, 'no registered token in any log line')
  assertLogHygiene(t, logs, 'whole file')
})

tally.closingTest(t)
