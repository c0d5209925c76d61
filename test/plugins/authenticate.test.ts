import { setTimeout as sleep } from 'node:timers/promises'
import t from 'tap'
import { build } from '../helper.js'
import { callerToken, TEST_SECRET } from '../support/tokens.js'

// A verified Authorization header is remembered until the token's exp; these are the ways that must not widen access.

t.test('a remembered token does not vouch for a token that differs from it', async (t) => {
  const { request } = await build(t)
  const token = await callerToken('portal-bff')
  t.equal((await request({ url: '/tokens/video/abc', token })).statusCode, 200)
  t.equal((await request({ url: '/tokens/video/abc', token })).statusCode, 200, 'the repeat is served')

  const [header, payload, signature] = token.split('.') as [string, string, string]
  const flipped = signature.slice(0, -2) + (signature.at(-2) === 'A' ? 'B' : 'A') + signature.at(-1)
  const forged = await callerToken('admin-bff', { secret: TEST_SECRET + 'x' })
  const cases: Array<[string, string]> = [
    ['a changed signature', `${header}.${payload}.${flipped}`],
    ["another caller's payload under the remembered signature", `${header}.${forged.split('.')[1]}.${signature}`],
    ['the remembered token with a suffix', `${token}x`]
  ]
  for (const [name, variant] of cases) {
    const response = await request({ url: '/tokens/video/abc', token: variant })
    t.equal(response.statusCode, 401, name)
    t.equal(response.json().error.code, 'AUTH_INVALID', name)
  }
})

t.test('each caller keeps its own identity and policy when both are remembered', async (t) => {
  const { request } = await build(t)
  const portal = await callerToken('portal-bff')
  const admin = await callerToken('admin-bff')
  for (let i = 0; i < 2; i++) {
    t.equal(
      (await request({ url: '/tokens/account', token: portal })).statusCode,
      403,
      'portal-bff may not have Account scope'
    )
    t.equal((await request({ url: '/tokens/account', token: admin })).statusCode, 200, 'admin-bff may')
  }
})

t.test('a remembered token is refused once its exp has passed', async (t) => {
  // No skew, so the token is expired the moment exp passes.
  const { request } = await build(t, { env: { AUTH_CLOCK_SKEW_SECONDS: '0' } })
  const exp = Math.floor(Date.now() / 1000) + 2
  const token = await callerToken('portal-bff', { expiresIn: exp })
  t.equal((await request({ url: '/tokens/video/abc', token })).statusCode, 200)
  t.equal((await request({ url: '/tokens/video/abc', token })).statusCode, 200)
  await sleep(exp * 1000 - Date.now() + 50)
  const response = await request({ url: '/tokens/video/abc', token })
  t.equal(response.statusCode, 401)
  t.equal(response.json().error.code, 'AUTH_EXPIRED')
})
