// Issue 12 §3, through the whole app: the first caller claim present decides, and the registered claims
// (iat, nbf, exp) have their registered types and a bounded lifetime.
import t from 'tap'
import { build } from '../helper.js'
import { callerToken } from '../support/tokens.js'

const VIDEO = '/tokens/video/abc'
const now = () => Math.floor(Date.now() / 1000)

t.test('the first caller claim present decides: an unusable azp is AUTH_NO_CALLER, not its sub', async (t) => {
  const { request } = await build(t)
  const unusable: Array<[string, unknown]> = [
    ['an array', ['portal-bff']],
    ['an empty string', ''],
    ['a number', 42],
    ['an object', { id: 'portal-bff' }],
    ['300 characters', 'p'.repeat(300)],
    ['true', true],
    ['null', null]
  ]
  for (const [name, azp] of unusable) {
    const token = await callerToken('x', { claims: { azp, sub: 'portal-bff' } })
    const response = await request({ url: VIDEO, token })
    t.equal(response.statusCode, 401, `azp ${name}: 401`)
    t.equal(response.json().error?.code, 'AUTH_NO_CALLER', `azp ${name}: AUTH_NO_CALLER`)
  }
  const absent = await callerToken('x', { claims: { azp: undefined, sub: 'portal-bff' } })
  t.equal((await request({ url: VIDEO, token: absent })).statusCode, 200, 'an absent azp falls through to sub')
})

t.test('iat and nbf, when present, must be NumericDates', async (t) => {
  const { request } = await build(t)
  const cases: Array<[string, Record<string, unknown>]> = [
    ['iat a string', { iat: String(now()) }],
    ['iat an array', { iat: [now()] }],
    ['iat null', { iat: null }],
    ['nbf a string', { nbf: String(now()) }],
    ['nbf an object', { nbf: { at: now() } }],
    ['nbf true', { nbf: true }],
    ['exp a string', { exp: String(now() + 600) }]
  ]
  for (const [name, claims] of cases) {
    const token = await callerToken('portal-bff', { claims, ...(claims.exp ? { expiresIn: null as never } : {}) })
    const response = await request({ url: VIDEO, token })
    t.equal(response.statusCode, 401, `${name}: 401`)
    t.equal(response.json().error?.code, 'AUTH_INVALID', `${name}: AUTH_INVALID`)
  }
  const good = await callerToken('portal-bff', { claims: { nbf: now() - 10 } })
  t.equal((await request({ url: VIDEO, token: good })).statusCode, 200, 'numeric iat and nbf are served')
})

t.test('a lifetime over AUTH_MAX_TOKEN_LIFETIME_SECONDS (default 86400) is AUTH_INVALID', async (t) => {
  const { request } = await build(t)
  // iat is given, not taken at signing, so a second that ticks by in between cannot change the lifetime.
  const issuedAt = now()
  const refused: Array<[string, Parameters<typeof callerToken>[1]]> = [
    ['exp − iat of 2 days', { claims: { iat: issuedAt }, expiresIn: issuedAt + 2 * 86_400 }],
    ['exp − iat of 24 h + 1 s', { claims: { iat: issuedAt }, expiresIn: issuedAt + 86_401 }],
    ['no iat, exp − now of 2 days', { claims: { iat: undefined }, expiresIn: now() + 2 * 86_400 }],
    ['iat a week ago, exp in an hour', { claims: { iat: now() - 7 * 86_400 }, expiresIn: now() + 3600 }],
    ['exp far in the future', { expiresIn: 9_999_999_999 }]
  ]
  for (const [name, options] of refused) {
    const response = await request({ url: VIDEO, token: await callerToken('portal-bff', options) })
    t.equal(response.statusCode, 401, `${name}: 401`)
    t.equal(response.json().error?.code, 'AUTH_INVALID', `${name}: AUTH_INVALID`)
  }
  const day = await callerToken('portal-bff', { claims: { iat: issuedAt }, expiresIn: issuedAt + 86_400 })
  t.equal((await request({ url: VIDEO, token: day })).statusCode, 200, 'exactly 24 h is served')
})

t.test('AUTH_MAX_TOKEN_LIFETIME_SECONDS sets the bound', async (t) => {
  const { request } = await build(t, { env: { AUTH_MAX_TOKEN_LIFETIME_SECONDS: '3600' } })
  const hour = await callerToken('portal-bff', { expiresIn: now() + 3600 })
  t.equal((await request({ url: VIDEO, token: hour })).statusCode, 200, '1 h is served')
  const twoHours = await callerToken('portal-bff', { expiresIn: now() + 7200 })
  const response = await request({ url: VIDEO, token: twoHours })
  t.equal(response.statusCode, 401, '2 h is refused')
  t.equal(response.json().error?.code, 'AUTH_INVALID')
})
