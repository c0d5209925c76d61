// GET /status and GET /policy/explain against the emulator (its ARM, identity endpoint and caller JWKS)
// and a real Redis: admin callers only, never a secret or a token, and explanations that match real requests.
import { randomBytes } from 'node:crypto'
import { Redis } from 'ioredis'
import t from 'tap'
import { build, emulatorFor, TEST_ENV } from '../helper.js'
import { missingRedis, startRedis } from '../support/redis-server.js'

const POLICY = {
  callers: {
    'ops-bff': { allow: [], admin: true },
    'portal-bff': { allow: [{ scope: 'video' }, { scope: 'project', ids: ['07ec9e38d4'] }] }
  }
}

if (!missingRedis(t)) await main()

async function main (): Promise<void> {
  const emulator = await emulatorFor(t)
  const redisServer = await startRedis(t)
  const redis = new Redis(redisServer.url, { enableOfflineQueue: false, maxRetriesPerRequest: 0 })
  redis.on('error', () => {})
  t.teardown(() => redis.disconnect())
  await new Promise((resolve) => redis.once('ready', resolve))
  const cacheKey = `k1:${randomBytes(32).toString('base64')}`
  const { request, logs } = await build(t, {
    emulator,
    policy: POLICY,
    redis,
    env: { REDIS_URL: redisServer.url, CACHE_ENCRYPTION_KEY: cacheKey }
  })
  const ops = await emulator.mintCallerToken('ops-bff')
  const portal = await emulator.mintCallerToken('portal-bff')
  const issued: string[] = []
  const token = async (url: string) => {
    const response = await request({ url, token: portal })
    if (response.statusCode === 200) issued.push(response.json().accessToken as string)
    return response
  }

  t.test('GET /status answers an admin caller, refuses others, and holds no secret or token', async (t) => {
    t.equal((await token('/tokens/video/status1')).statusCode, 200)
    t.equal((await token('/tokens/video/status1')).statusCode, 200)
    const status = await request({ url: '/status', token: ops })
    t.equal(status.statusCode, 200)
    const body = status.json()
    t.match(body, {
      version: /^\d+\.\d+\.\d+/,
      uptimeSeconds: Number,
      identities: [
        {
          id: String,
          armToken: { ageSeconds: Number, expiresOn: /^\d{4}-/ },
          lastArmAnswer: { status: 200 },
          remainingWrites: Number,
          throttleHoldSeconds: 0
        }
      ],
      armCallsInFlight: 0,
      redis: { configured: true, circuit: 'closed' },
      policy: { hash: /^[0-9a-f]{64}$/, loadedAt: /^\d{4}-/, callers: 2 },
      jwks: { ageSeconds: Number, keyIds: [String] },
      cache: { entries: 1, served: 2, hitRatio: 0.5 }
    })
    t.equal((await request({ url: '/status', token: portal })).json().error.code, 'ADMIN_REQUIRED')
    t.equal((await request({ url: '/status', token: portal })).statusCode, 403)
    t.equal((await request({ url: '/status' })).statusCode, 401)

    const secrets = [TEST_ENV.AUDIT_HMAC_KEY, cacheKey, cacheKey.slice(3), TEST_ENV.AUTH_JWT_SECRET, ops, portal]
    for (const secret of [...secrets, ...issued]) t.notOk(status.body.includes(secret), 'no secret or token')
    const reads = logs.audits.filter((a) => a.action === 'status').map((a) => [a.caller, a.status])
    t.same(reads, [['ops-bff', 200], ['portal-bff', 403], ['portal-bff', 403], [null, 401]], 'each read is audited')
  })

  t.test('GET /policy/explain gives the decision a real request gets, and mints nothing', async (t) => {
    const explain = async (query: string) => request({ url: `/policy/explain?${query}`, token: ops })
    const mintsBefore = emulator.counters().arm.generateRestrictedViewerAccessToken
    const allowed = await explain('caller=portal-bff&scope=project&id=07ec9e38d4')
    const denied = await explain('caller=portal-bff&scope=project&id=0000000000')
    t.same(allowed.json(), { decision: 'allow', reason: '/callers/portal-bff/allow/1' })
    t.same(denied.json(), { decision: 'deny', reason: 'id_not_listed' })
    t.same((await explain('caller=stranger&scope=video&id=v')).json(), { decision: 'deny', reason: 'unknown_caller' })
    t.same((await explain('caller=portal-bff&scope=account')).json(), { decision: 'deny', reason: 'scope_not_granted' })
    t.same((await explain('caller=portal-bff&scope=video&id=v&account=elsewhere')).json(), {
      decision: 'deny',
      reason: 'account_not_granted'
    })
    t.equal(
      (await explain(`caller=portal-bff&scope=video&id=v&account=${TEST_ENV.AVI_ACCOUNT_NAME}`)).json().decision,
      'allow',
      'the account served, by name'
    )
    t.equal(emulator.counters().arm.generateRestrictedViewerAccessToken, mintsBefore, 'nothing was minted')

    t.equal((await token('/tokens/project/07ec9e38d4')).statusCode, 200, 'the real request is allowed too')
    t.equal((await token('/tokens/project/0000000000')).statusCode, 403, 'and the denied one denied')
    t.match(logs.audits.at(-1), { decision: 'deny', code: 'POLICY_DENIED', reason: 'id_not_listed' })
    t.match(logs.audits.find((a) => a.action === 'explain'), { caller: 'ops-bff', status: 200 })

    const byPortal = await request({ url: '/policy/explain?caller=portal-bff&scope=video&id=v', token: portal })
    t.equal(byPortal.statusCode, 403, 'admin callers only')
    t.equal((await explain('caller=portal-bff&scope=video')).json().error.code, 'MISSING_ID')
    t.equal((await explain('caller=portal-bff&scope=account&id=x')).json().error.code, 'UNEXPECTED_ID')
    t.equal((await explain('caller=portal-bff&scope=galaxy')).json().error.code, 'INVALID_QUERY')
    t.equal((await explain('scope=video&id=v')).statusCode, 400)
  })
}
