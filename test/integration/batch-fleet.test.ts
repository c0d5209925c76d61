// Batches across two replicas sharing one Redis and one emulator: each item is charged to the caller's
// fleet-wide rate limit, and tokens a batch minted on one replica are served from the shared tier on the other.
import { randomBytes } from 'node:crypto'
import { Redis } from 'ioredis'
import t from 'tap'
import { build, emulatorFor, type Built } from '../helper.js'
import { missingRedis, startRedis } from '../support/redis-server.js'

if (!missingRedis(t)) await main()

async function main (): Promise<void> {
  const emulator = await emulatorFor(t)
  const redisServer = await startRedis(t)
  const env = { REDIS_URL: redisServer.url, CACHE_ENCRYPTION_KEY: `k1:${randomBytes(32).toString('base64')}` }
  const policy = {
    rateLimit: { max: 1000, timeWindow: '1 minute' },
    callers: {
      'portal-bff': { allow: [{ scope: 'video' }], rateLimit: { max: 6, timeWindow: '1 minute' } },
      'walker-bff': { allow: [{ scope: 'video' }], mintBudget: { max: 2, timeWindow: '1 hour' } }
    }
  }
  async function replica (): Promise<Built> {
    // As the broker's own client is set up (src/redis-client.ts).
    const redis = new Redis(redisServer.url, {
      commandTimeout: 500,
      enableOfflineQueue: false,
      maxRetriesPerRequest: 0
    })
    t.teardown(() => redis.disconnect())
    await new Promise((resolve) => redis.once('ready', resolve))
    return build(t, { emulator, redis, env, policy })
  }
  const [a, b] = [await replica(), await replica()] as [Built, Built]
  const portal = await emulator.mintCallerToken('portal-bff')
  a.logs.secret(portal)
  b.logs.secret(portal)

  async function batch (broker: Built, ids: string[], token = portal) {
    const response = await broker.request({
      method: 'POST',
      url: '/tokens/batch',
      token,
      headers: { 'content-type': 'application/json' },
      payload: JSON.stringify({ requests: ids.map((id) => ({ scope: 'video', id })) })
    })
    const { results } = response.json() as { results: Array<{ status: number; accessToken?: string }> }
    for (const result of results) {
      a.logs.secret(result.accessToken)
      b.logs.secret(result.accessToken)
    }
    return results
  }
  const mints = () => emulator.counters().arm.generateRestrictedViewerAccessToken

  t.test("a caller's items draw on one fleet-wide limit; the shared tier serves the other replica", async (t) => {
    const before = mints()
    const first = await batch(a, ['s1', 's2', 's3', 's4'])
    t.same(first.map((r) => r.status), [200, 200, 200, 200])
    t.equal(mints() - before, 4)

    const second = await batch(b, ['s1', 's2', 's5'])
    t.same(second.map((r) => r.status), [200, 200, 429], 'six of six spent across the two replicas')
    t.equal(second[0]?.accessToken, first[0]?.accessToken, "replica b serves the token replica a's batch minted")
    t.equal(mints() - before, 4, 'no new ARM call: two from Redis, one over the limit')
    t.match(b.logs.audits.filter((r) => r.batchItem !== null).map((r) => r.cache), ['miss', 'miss', null])
  })

  t.test("items that need a new mint are charged to the caller's mint budget, once per distinct id", async (t) => {
    const walker = await emulator.mintCallerToken('walker-bff')
    a.logs.secret(walker)
    const before = mints()
    const results = await batch(a, ['m1', 'm2', 'm3', 'm1', 'm2', 'm3'], walker)
    const statuses = results.map((r) => r.status)
    t.same(statuses.slice(3), statuses.slice(0, 3), 'a duplicate shares the answer of the mint it joined')
    t.same(statuses.slice(0, 3).sort(), [200, 200, 429], 'a budget of two: two ids minted, the third refused')
    t.match(results[statuses.indexOf(429)], { error: { code: 'MINT_BUDGET_EXCEEDED' } })
    t.equal(mints() - before, 2)
  })
}
