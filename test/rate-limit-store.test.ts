// The rate-limit store against a real redis-server: counts in Redis, and in this process whenever a
// command fails, so a slow or lost Redis never lifts a limit.
import { Redis } from 'ioredis'
import type { FastifyRateLimitStore } from '@fastify/rate-limit'
import t from 'tap'
import { redisWithLocalFallback } from '../src/rate-limit-store.js'
import { missingRedis, startRedis } from './support/redis-server.js'
import { until } from './support/until.js'

if (!missingRedis(t)) await main()

async function main (): Promise<void> {
  const redisServer = await startRedis(t)
  const connect = (options = {}) => {
    const redis = new Redis(redisServer.url, { enableOfflineQueue: false, maxRetriesPerRequest: 0, ...options })
    redis.on('error', () => {})
    t.teardown(() => redis.disconnect())
    return new Promise<Redis>((resolve) => redis.once('ready', () => resolve(redis)))
  }
  const redis = await connect({ commandTimeout: 100 })
  const admin = await connect()
  const fallbacks: unknown[] = []
  const Store = redisWithLocalFallback(redis, 'test:', (error) => fallbacks.push(error))
  const incr = (store: FastifyRateLimitStore, key: string) =>
    new Promise<number>((resolve, reject) =>
      store.incr(key, (error, result) => (error ? reject(error) : resolve(result?.current ?? -1)), 60_000, 3))

  t.test('counts in Redis; a command that fails is counted in this process instead', async (t) => {
    const store = new Store({})
    t.equal(await incr(store, 'a'), 1)
    t.equal(await incr(store, 'a'), 2)
    t.equal(await admin.get('test:a'), '2')
    // Redis holds every write for a while: each command times out while the connection stays ready.
    await admin.client('PAUSE', 1_000, 'WRITE')
    t.equal(await incr(store, 'a'), 1, 'the local count starts on its own')
    t.equal(await incr(store, 'a'), 2)
    t.equal(fallbacks.length, 2)
    t.match(fallbacks[0], { message: /timed out/i })
    await admin.client('UNPAUSE')
  })

  t.test('a store made for one route keeps its own counts, in Redis and locally', async (t) => {
    const store = new Store({}).child({ routeInfo: { method: 'GET', url: '/r' } } as never)
    t.equal(await incr(store, 'b'), 1)
    t.equal(await admin.get('test:GET/r-b'), '1')
  })

  t.test('while the connection is down, nothing is sent to Redis: the count is local at once', async (t) => {
    const gone = await connect()
    gone.disconnect()
    await until(() => gone.status === 'end')
    const store = new (redisWithLocalFallback(gone, 'test:', (error) => t.fail(`no command was tried: ${error}`)))({})
    t.equal(await incr(store, 'c'), 1)
    t.equal(await incr(store, 'c'), 2)
    t.equal(await admin.get('test:c'), null)
  })
}
