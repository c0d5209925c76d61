// App roles through the app: the token's roles claim reaches the policy's roles section.
import t from 'tap'
import { build } from '../helper.js'
import { callerToken } from '../support/tokens.js'

const POLICY = {
  callers: { 'admin-bff': { allow: [{ scope: 'account' }] } },
  roles: {
    'Tokens.Video': { allow: [{ scope: 'video' }] },
    'Tokens.Project': { allow: [{ scope: 'project', ids: ['07ec9e38d4'] }] }
  }
}

t.test('a caller with no entry but a role gets what the role grants, and nothing else', async (t) => {
  const { request } = await build(t, { policy: POLICY })
  const video = await callerToken('reports-bff', { claims: { roles: ['Tokens.Video'] } })
  t.equal((await request({ url: '/tokens/video/abc', token: video })).statusCode, 200, 'video scope via the role')
  const account = await request({ url: '/tokens/account', token: video })
  t.equal(account.statusCode, 403, 'no account scope')
  t.equal(account.json().error.code, 'POLICY_DENIED')
  t.equal((await request({ url: '/tokens/project/07ec9e38d4', token: video })).statusCode, 403, 'nor project')

  const both = await callerToken('reports-bff', { claims: { roles: ['Tokens.Project', 'Tokens.Video'] } })
  t.equal((await request({ url: '/tokens/project/07ec9e38d4', token: both })).statusCode, 200, 'roles add up')
  t.equal((await request({ url: '/tokens/project/other', token: both })).statusCode, 403, "the role's ids bind")

  const none = await callerToken('reports-bff')
  t.equal((await request({ url: '/tokens/video/abc', token: none })).statusCode, 403, 'the same caller, no role')
})

t.test("a caller known only through a role has the policy's default rate limit", async (t) => {
  const { request } = await build(t, { policy: { ...POLICY, rateLimit: { max: 3, timeWindow: '1 minute' } } })
  const token = await callerToken('reports-bff', { claims: { roles: ['Tokens.Video'] } })
  const statuses = []
  for (let i = 0; i < 4; i++) statuses.push((await request({ url: '/tokens/video/abc', token })).statusCode)
  t.same(statuses, [200, 200, 200, 429])
})

t.test("a listed caller's roles add to its own grants", async (t) => {
  const { request } = await build(t, { policy: POLICY })
  const token = await callerToken('admin-bff', { claims: { roles: ['Tokens.Video'] } })
  t.equal((await request({ url: '/tokens/account', token })).statusCode, 200)
  t.equal((await request({ url: '/tokens/video/abc', token })).statusCode, 200)
  t.equal((await request({ url: '/tokens/account', token })).statusCode, 200, 'the remembered token keeps its roles')
})
