// Every 401 has a reason from a closed set, in the audit record and in an info log line; the body says no more
// than it did.
import { generateKeyPair, SignJWT } from 'jose'
import t from 'tap'
import { AUTH_REASONS } from '../../src/auth.js'
import { errors } from '../../src/errors.js'
import { build } from '../helper.js'
import { callerToken, TEST_AUDIENCE, TEST_ISSUER } from '../support/tokens.js'

const now = () => Math.floor(Date.now() / 1000)

t.test('each refusal is audited and logged with its reason, and answered as before', async (t) => {
  const { request, logs } = await build(t)
  const rsa = await generateKeyPair('RS256')
  const rs256 = await new SignJWT({ iss: TEST_ISSUER, aud: TEST_AUDIENCE, azp: 'portal-bff' })
    .setProtectedHeader({ alg: 'RS256' })
    .setExpirationTime('5m')
    .sign(rsa.privateKey)
  const bearer = async (...args: Parameters<typeof callerToken>) => `Bearer ${await callerToken(...args)}`
  const cases: Array<[string, string | undefined, string, string]> = [
    ['no Authorization header', undefined, 'AUTH_REQUIRED', 'missing'],
    ['a Basic credential', 'Basic dXNlcjpwYXNzd29yZA==', 'AUTH_REQUIRED', 'missing'],
    ['not a JWT', 'Bearer not-a-jwt-at-all-0123456789', 'AUTH_INVALID', 'malformed'],
    ['two spaces', (await bearer('portal-bff')).replace(' ', '  '), 'AUTH_INVALID', 'malformed'],
    ['RS256 in HS256 mode', `Bearer ${rs256}`, 'AUTH_INVALID', 'algorithm'],
    ['another secret', await bearer('portal-bff', { secret: 'x'.repeat(40) }), 'AUTH_INVALID', 'signature'],
    ['another issuer', await bearer('portal-bff', { claims: { iss: 'https://x.test/' } }), 'AUTH_INVALID', 'issuer'],
    ['another audience', await bearer('portal-bff', { claims: { aud: 'api://x' } }), 'AUTH_INVALID', 'audience'],
    ['expired', await bearer('portal-bff', { expiresIn: now() - 600 }), 'AUTH_EXPIRED', 'expired'],
    ['nbf ahead', await bearer('portal-bff', { claims: { nbf: now() + 600 } }), 'AUTH_INVALID', 'not_yet_valid'],
    ['iat a string', await bearer('portal-bff', { claims: { iat: 'now' } }), 'AUTH_INVALID', 'claim_type'],
    ['roles a string', await bearer('portal-bff', { claims: { roles: 'Tokens.Video' } }), 'AUTH_INVALID', 'claim_type'],
    ['no exp', await bearer('portal-bff', { expiresIn: null as never }), 'AUTH_INVALID', 'missing_claim'],
    ['a week long', await bearer('portal-bff', { expiresIn: now() + 7 * 86_400 }), 'AUTH_INVALID', 'lifetime'],
    ['azp an array', await bearer('x', { claims: { azp: ['portal-bff'] } }), 'AUTH_NO_CALLER', 'no_caller']
  ]
  for (const [name, authorization, code, reason] of cases) {
    const reqId = `reason-${reason}-${name.replace(/\W/g, '-')}`
    if (authorization !== undefined) logs.secret(authorization.replace(/^\S+\s+/, ''))
    const response = await request({
      url: '/tokens/video/abc',
      headers: { 'x-request-id': reqId, ...(authorization === undefined ? {} : { authorization }) }
    })
    t.equal(response.statusCode, 401, `${name}: 401`)
    t.same(
      response.json(),
      { error: { code, message: new errors[code as keyof typeof errors]().message } },
      `${name}: the body has the code and message only`
    )
    t.ok((AUTH_REASONS as readonly string[]).includes(reason), `${name}: ${reason} is in the closed set`)
    const audit = logs.audits.find((record) => record.reqId === reqId)
    t.match(audit, { status: 401, code, reason, decision: 'deny' }, `${name}: audited with reason ${reason}`)
    const line = logs.records.find((record) => record.reqId === reqId && record.msg === 'caller refused')
    t.match(line, { level: 30, code, reason }, `${name}: an info line with the reason`)
  }
})

t.test('an allowed request has no reason', async (t) => {
  const { request, logs } = await build(t)
  const response = await request({ url: '/tokens/video/abc', token: await callerToken('portal-bff') })
  t.equal(response.statusCode, 200)
  t.match(logs.audits.at(-1), { status: 200, reason: null })
  t.notOk(logs.records.some((record) => record.msg === 'caller refused'))
})
