// Per-caller rate limits with Redis: shared while Redis answers, enforced by each replica on its own
// while Redis is unreachable, and shared again once it is back.
import { randomBytes } from 'node:crypto'
import { Redis } from 'ioredis'
import t from 'tap'
import { build } from '../helper.js'
import { missingRedis, startRedis } from '../support/redis-server.js'
import { callerToken } from '../support/tokens.js'
import { until } from '../support/until.js'

if (!missingRedis(t)) await main()

async function main (): Promise<void> {
  const redisServer = await startRedis(t)
  // As the broker's own client is set up (src/redis-client.ts): no offline queue, no retries per command.
  const redis = new Redis(redisServer.url, {
    commandTimeout: 500,
    enableOfflineQueue: false,
    maxRetriesPerRequest: 0,
    retryStrategy: () => 50
  })
  redis.on('error', () => {})
  t.teardown(() => redis.disconnect())
  await new Promise((resolve) => redis.once('ready', resolve))
  const { request } = await build(t, {
    redis,
    env: { REDIS_URL: redisServer.url, CACHE_ENCRYPTION_KEY: `k1:${randomBytes(32).toString('base64')}` },
    policy: {
      rateLimit: { max: 1000, timeWindow: '1 minute' },
      callers: { 'limited-bff': { allow: [{ scope: 'video' }], rateLimit: { max: 3, timeWindow: '1 minute' } } }
    }
  })
  const limited = await callerToken('limited-bff')
  const statuses = async (n: number) => {
    const result: number[] = []
    for (let i = 0; i < n; i++) result.push((await request({ url: '/tokens/video/rate', token: limited })).statusCode)
    return result
  }

  t.test('while Redis is down, the policy limit is enforced by the replica itself', async (t) => {
    t.same(await statuses(1), [200])
    t.equal(await redis.get('vi-token-broker:rate:caller:limited-bff'), '1', 'the count is kept in Redis')
    await redisServer.kill()
    t.same(await statuses(5), [200, 200, 200, 429, 429], 'max 3 per minute, counted locally')
  })

  t.test('once Redis is back, the count is shared in Redis again', async (t) => {
    await redisServer.restart()
    await until(() => redis.status === 'ready')
    t.same(await statuses(1), [200])
    t.equal(await redis.get('vi-token-broker:rate:caller:limited-bff'), '1')
  })
}
