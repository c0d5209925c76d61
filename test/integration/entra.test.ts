// Issue 13's acceptance, against the emulator's Entra tenant with the settings docs/deploy-azure.md gives:
// real-shaped v1.0 and v2.0 app-only tokens, refusals with their reasons in the audit, and app roles.
import t from 'tap'
import { build, emulatorFor, TEST_POLICY } from '../helper.js'

const emulator = await emulatorFor(t)
const POLICY = {
  ...TEST_POLICY,
  roles: { 'Tokens.Video': { allow: [{ scope: 'video' }] } }
}
/** The settings for v2.0 tokens only: the v2 issuer, and the client id as the only audience. */
const V2_ONLY = { AUTH_ENTRA_TOKEN_VERSIONS: '2', AUTH_ENTRA_AUDIENCE: emulator.brokerClientId }

async function broker (t: Parameters<typeof build>[0], env: Record<string, string> = {}) {
  const built = await build(t, { emulator, policy: POLICY, env })
  return {
    ...built,
    /** GET as this token, with a request id to find its audit record by. */
    async get (url: string, token: string, reqId: string) {
      const response = await built.request({ url, token, headers: { 'x-request-id': reqId } })
      return { response, audit: built.logs.audits.find((record) => record.reqId === reqId) }
    }
  }
}

t.test('1. v1.0 and v2.0 tokens for the same BFF are both accepted, as the same caller', async (t) => {
  const { get } = await broker(t)
  const v1 = await emulator.mintCallerToken('portal-bff', { version: 1 })
  const v2 = await emulator.mintCallerToken('portal-bff', { version: 2 })
  for (const [name, token] of [['v1.0', v1], ['v2.0', v2]] as const) {
    const { response, audit } = await get('/tokens/video/abc123', token, `both-${name}`)
    t.equal(response.statusCode, 200, `${name}: 200`)
    t.equal(response.json().videoId, 'abc123')
    t.match(audit, { caller: 'portal-bff', decision: 'allow', reason: null }, `${name}: audited as portal-bff`)
  }
})

t.test('2. refusals give 401 with the right reason in the audit', async (t) => {
  const both = await broker(t)
  const v2Only = await broker(t, V2_ONLY)
  const foreignTenant = 'c0ffee00-1111-2222-3333-444444444444'
  const cases: Array<[string, typeof both, Promise<string>, string]> = [
    ["another tenant's token", both, emulator.mintCallerToken('portal-bff', { tenantId: foreignTenant }), 'issuer'],
    [
      "another tenant's tid under our issuer",
      both,
      emulator.mintCallerToken('portal-bff', { claims: { tid: foreignTenant } }),
      'tenant'
    ],
    ['a token without tid', both, emulator.mintCallerToken('portal-bff', { claims: { tid: null } }), 'tenant'],
    [
      'a v2.0 token whose aud is the api:// URI, only the client id configured',
      v2Only,
      emulator.mintCallerToken('portal-bff', { claims: { aud: emulator.brokerApplicationIdUri } }),
      'audience'
    ],
    ['a v1.0 token, v2.0-only settings', v2Only, emulator.mintCallerToken('portal-bff', { version: 1 }), 'issuer']
  ]
  for (const [index, [name, { get }, pending, reason]] of cases.entries()) {
    const { response, audit } = await get('/tokens/video/abc123', await pending, `refusal-${index}`)
    t.equal(response.statusCode, 401, `${name}: 401`)
    t.equal(response.json().error.code, 'AUTH_INVALID', `${name}: AUTH_INVALID`)
    t.match(audit, { status: 401, code: 'AUTH_INVALID', reason, decision: 'deny' }, `${name}: reason ${reason}`)
  }
  const { response } = await v2Only.get('/tokens/video/abc123', await emulator.mintCallerToken('portal-bff'), 'v2')
  t.equal(response.statusCode, 200, 'a v2.0 token is served by the v2.0-only settings')
})

t.test('3. a BFF with no callers entry but the role Tokens.Video gets a Video token, not Account scope', async (t) => {
  const { get } = await broker(t)
  for (const version of [1, 2] as const) {
    const token = await emulator.mintCallerToken('reports-bff', { version, roles: ['Tokens.Video'] })
    const video = await get('/tokens/video/abc123', token, `role-video-v${version}`)
    t.equal(video.response.statusCode, 200, `v${version}: a Video token`)
    t.match(video.audit, { caller: 'reports-bff', decision: 'allow' })
    const account = await get('/tokens/account', token, `role-account-v${version}`)
    t.equal(account.response.statusCode, 403, `v${version}: Account scope refused`)
    t.equal(account.response.json().error.code, 'POLICY_DENIED')
  }
  const roleless = await emulator.mintCallerToken('reports-bff')
  t.equal((await get('/tokens/video/abc123', roleless, 'role-none')).response.statusCode, 403, 'no role, no token')
})
