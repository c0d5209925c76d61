// Three broker processes sharing one Redis and one emulator, as replicas behind a Service would.
import { randomBytes } from 'node:crypto'
import { Redis } from 'ioredis'
import t from 'tap'
import { startBrokerProcess } from '../../scripts/broker-process.js'
import { startEmulator } from '../../src/emulator/emulator.js'
import { TEST_ENV } from '../helper.js'
import { missingRedis, startRedis } from '../support/redis-server.js'
import { callerToken } from '../support/tokens.js'

if (!missingRedis(t)) await main()

async function main (): Promise<void> {
  const emulator = await startEmulator()
  t.teardown(() => emulator.close())
  const redisServer = await startRedis(t)
  const dir = t.testdir({
    'policy.json': JSON.stringify({
      rateLimit: { max: 100_000, timeWindow: '1 minute' },
      callers: {
        'portal-bff': { allow: [{ scope: 'video' }] },
        'limited-bff': { allow: [{ scope: 'video' }], rateLimit: { max: 10, timeWindow: '1 minute' } }
      }
    })
  })
  const ENV = {
    ...TEST_ENV,
    POLICY_FILE: `${dir}/policy.json`,
    REDIS_URL: redisServer.url,
    CACHE_ENCRYPTION_KEY: `k1:${randomBytes(32).toString('base64')}`,
    LOG_LEVEL: 'info'
  }

  async function startReplica (): Promise<string> {
    const replica = await startBrokerProcess({ env: ENV, emulator, stdout: 'ignore', stderr: 'inherit' })
    t.teardown(() => replica.stop())
    await replica.ready()
    return replica.url
  }

  const replicas = await Promise.all([startReplica(), startReplica(), startReplica()])
  const portal = await callerToken('portal-bff')

  async function get (base: string, path: string, token = portal) {
    try {
      const response = await fetch(base + path, {
        headers: { authorization: `Bearer ${token}` },
        signal: AbortSignal.timeout(15_000)
      })
      await response.arrayBuffer()
      return response.status
    } catch {
      return 0
    }
  }

  t.test('600 concurrent requests over 3 replicas for 20 ids make exactly 20 ARM calls', async (t) => {
    const before = emulator.counters().arm.generateRestrictedViewerAccessToken
    const statuses = await Promise.all(
      Array.from({ length: 600 }, (_, i) => get(replicas[i % 3] as string, `/tokens/video/fleet${i % 20}`))
    )
    t.same([...new Set(statuses)], [200])
    const sharedResults = await Promise.all(
      replicas.map(async (r) =>
        (await (await fetch(`${r}/metrics`)).text())
          .split('\n')
          .filter((l) => /^vi_broker_(shared_cache|redis_circuit)/.test(l))
          .join(' ')
      )
    )
    t.equal(
      emulator.counters().arm.generateRestrictedViewerAccessToken - before,
      20,
      `per-replica caches alone would make up to 60 (${sharedResults.join(' | ')})`
    )
  })

  t.test('rate limits hold across the fleet', async (t) => {
    const limited = await callerToken('limited-bff')
    const statuses = []
    for (let i = 0; i < 14; i++) statuses.push(await get(replicas[i % 3] as string, '/tokens/video/fleet0', limited))
    t.equal(statuses.filter((s) => s === 200).length, 10, 'the limit of 10 is shared, not 10 per replica')
    t.equal(statuses.filter((s) => s === 429).length, 4)
  })

  t.test('killing Redis mid-run fails no request; the broker falls back, then uses Redis again', async (t) => {
    const state = { stop: false }
    let n = 0
    const statuses: number[] = []
    const load = (async () => {
      while (!state.stop) {
        const batch = await Promise.all(
          Array.from({ length: 12 }, () => get(replicas[n % 3] as string, `/tokens/video/outage${n++ % 40}`))
        )
        statuses.push(...batch)
      }
    })()
    await new Promise((resolve) => setTimeout(resolve, 500))
    await redisServer.kill()
    await new Promise((resolve) => setTimeout(resolve, 1_500))
    const duringOutage = await (await fetch(`${replicas[0]}/metrics`)).text()
    await redisServer.restart()
    await new Promise((resolve) => setTimeout(resolve, 6_500))
    state.stop = true
    await load
    t.ok(statuses.length > 100)
    t.same(
      statuses.filter((s) => s !== 200),
      [],
      `0 of ${statuses.length} requests failed`
    )
    t.match(duringOutage, /vi_broker_redis_circuit_open 1/, 'the metrics show the fallback')
    const afterOutage = await (await fetch(`${replicas[0]}/metrics`)).text()
    t.match(afterOutage, /vi_broker_redis_circuit_open 0/, 'recovered without a restart')
    const redis = new Redis(redisServer.url)
    t.teardown(() => redis.disconnect())
    await get(replicas[1] as string, '/tokens/video/after-outage')
    t.ok((await redis.keys('vi-token-broker:token:*')).length >= 1, 'new tokens are shared again')
  })
}
