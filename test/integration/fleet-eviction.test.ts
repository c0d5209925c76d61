// Eviction across a fleet: three broker processes sharing one Redis and one emulator. An operator
// evicts at one replica; within a second no replica serves the evicted token.
import { randomBytes } from 'node:crypto'
import { Redis } from 'ioredis'
import t, { type Test } from 'tap'
import { startBrokerProcess } from '../../scripts/broker-process.js'
import { startEmulator } from '../../src/emulator/emulator.js'
import { TEST_ENV } from '../helper.js'
import { missingRedis, startRedis } from '../support/redis-server.js'
import { callerToken } from '../support/tokens.js'

// The acceptance: "within 1 second no replica serves the token".
const FLEET_EVICTION_MS = 1_000

// Three broker processes boot here; on a loaded machine that alone can pass tap's default 30 s.
t.setTimeout(120_000)

if (!missingRedis(t)) await main()

async function main (): Promise<void> {
  const emulator = await startEmulator()
  t.teardown(() => emulator.close())
  const redisServer = await startRedis(t)
  const redis = new Redis(redisServer.url)
  t.teardown(() => redis.disconnect())
  const dir = t.testdir({
    'policy.json': JSON.stringify({
      rateLimit: { max: 100_000, timeWindow: '1 minute' },
      callers: { 'portal-bff': { allow: [{ scope: 'video' }] }, 'ops-bff': { allow: [], admin: true } }
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
  const ops = await callerToken('ops-bff')

  async function tokenAt (base: string, id: string): Promise<string> {
    const response = await fetch(`${base}/tokens/video/${id}`, { headers: { authorization: `Bearer ${portal}` } })
    if (response.status !== 200) throw new Error(`GET ${id} at ${base} answered ${response.status}`)
    return ((await response.json()) as { accessToken: string }).accessToken
  }
  /** Every replica's token for each id, once each replica holds it in memory. */
  async function warm (t: Test, ids: string[]): Promise<Map<string, string>> {
    const tokens = new Map<string, string>()
    for (const id of ids) {
      const served = new Set(await Promise.all(replicas.map((base) => tokenAt(base, id))))
      t.equal(served.size, 1, `the fleet shares one token for ${id}`)
      tokens.set(id, [...served][0] as string)
    }
    return tokens
  }
  async function evict (t: Test, base: string, path: string): Promise<number> {
    const response = await fetch(`${base}${path}`, { method: 'DELETE', headers: { authorization: `Bearer ${ops}` } })
    t.equal(response.status, 200)
    return ((await response.json()) as { evicted: number }).evicted
  }
  /** Milliseconds until no replica serves any of the old tokens, or Infinity past the limit. */
  async function untilNoneServes (old: Map<string, string>, since: number): Promise<number> {
    while (performance.now() - since <= FLEET_EVICTION_MS) {
      const served = await Promise.all(replicas.flatMap((base) => [...old.keys()].map((id) => tokenAt(base, id))))
      if (!served.some((token) => [...old.values()].includes(token))) return performance.now() - since
      await new Promise((resolve) => setTimeout(resolve, 20))
    }
    return Infinity
  }

  t.test('evicting one token at one replica stops every replica from serving it', async (t) => {
    const old = await warm(t, ['evict-me', 'keep-me'])
    const since = performance.now()
    t.equal(await evict(t, replicas[0] as string, '/cache/video/evict-me'), 1)
    const took = await untilNoneServes(new Map([['evict-me', old.get('evict-me') as string]]), since)
    t.ok(took <= FLEET_EVICTION_MS, `no replica serves the evicted token after ${Math.round(took)} ms`)
    const kept = await Promise.all(replicas.map((base) => tokenAt(base, 'keep-me')))
    t.same(kept, replicas.map(() => old.get('keep-me')), 'other tokens are still served from cache')
  })

  t.test("evicting every token at one replica clears the fleet, and only this account's Redis keys", async (t) => {
    const foreign = 'vi-token-broker:token:another-account:some-token'
    await redis.set(foreign, 'sealed-by-another-broker')
    const old = await warm(t, ['all-1', 'all-2'])
    const since = performance.now()
    t.ok((await evict(t, replicas[1] as string, '/cache')) >= 2)
    const took = await untilNoneServes(old, since)
    t.ok(took <= FLEET_EVICTION_MS, `no replica serves an evicted token after ${Math.round(took)} ms`)
    t.equal(await redis.get(foreign), 'sealed-by-another-broker', "another account's key is left alone")
  })
}
