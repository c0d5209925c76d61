// The Redis tier against a real redis-server: sealed values under hashed keys, one mint per key
// across replicas, rejection of planted values, and fallback when Redis fails.
import { createHash, randomBytes } from 'node:crypto'
import { Redis } from 'ioredis'
import { SignJWT } from 'jose'
import { pino } from 'pino'
import t from 'tap'
import { readExpiry } from '../src/avi-token.js'
import { createMetrics } from '../src/metrics.js'
import { createSharedCache, sharedTokenKey } from '../src/shared-cache.js'
import { systemClock } from '../src/clock.js'
import { parseKeyring, seal } from '../src/token-sealer.js'
import { EVICT_CHANNEL } from '../src/eviction-channel.js'
import { until } from './support/until.js'
import {
  accountKey,
  tokenKey,
  type Account,
  type EvictedKeys,
  type MintedToken,
  type TokenRequest
} from '../src/token-source.js'
import { missingRedis, startRedis } from './support/redis-server.js'
import { aviToken, callerToken } from './support/tokens.js'
import { build } from './helper.js'
import { LogCapture } from './support/log-capture.js'

if (!missingRedis(t)) await main()

async function main (): Promise<void> {
  const redisServer = await startRedis(t)
  const keyring = parseKeyring(`k1:${randomBytes(32).toString('base64')}`)

  type Minted = Omit<MintedToken, 'expiresAt'>
  const ACCOUNT: Account = { alias: 'default', subscriptionId: 'sub', resourceGroup: 'rg', name: 'contoso' }
  const request = (id: string): TokenRequest => ({ account: ACCOUNT, scope: 'video', id })

  function replica (options: { circuitOpenMs?: number; lockMs?: number } = {}) {
    const redis = new Redis(redisServer.url, {
      commandTimeout: 200,
      enableOfflineQueue: false,
      maxRetriesPerRequest: 0,
      retryStrategy: () => 50
    })
    redis.on('error', () => {})
    const subscriber = redis.duplicate()
    t.teardown(() => {
      redis.disconnect()
      subscriber.disconnect()
    })
    const metrics = createMetrics()
    const logs = new LogCapture()
    // The tier behind: mints with what the test hands mintOnce for that id, reading exp as ARM's tier does.
    const mints = new Map<string, () => Promise<Minted>>()
    const shared = createSharedCache({
      source: {
        get: async (request) => {
          const minted = await (mints.get(request.id as string) as () => Promise<Minted>)()
          return { ...minted, expiresAt: readExpiry(minted.accessToken) }
        }
      },
      redis,
      subscriber,
      keyring: () => keyring,
      clock: systemClock,
      logger: pino(logs),
      metrics,
      minRemainingSeconds: 300,
      refreshAheadSeconds: 900,
      lockMs: options.lockMs ?? 2_000,
      circuitOpenMs: options.circuitOpenMs ?? 200
    })
    const cache = {
      /** A token for `contoso/video/<id>`, minting with `mint` if the fleet has none. */
      mintOnce (key: string, mint: () => Promise<Minted>) {
        const id = key.split('/').pop() as string
        mints.set(id, mint)
        return shared.get(request(id))
      }
    }
    const heard: EvictedKeys[] = []
    shared.onEvicted((keys) => heard.push(keys))
    return { redis, subscriber, shared, cache, metrics, logs, heard }
  }

  const sha256 = (text: string) => createHash('sha256').update(text).digest('hex')

  let minted = 0
  async function mint (delayMs = 0): Promise<Minted> {
    minted++
    if (delayMs) await new Promise((resolve) => setTimeout(resolve, delayMs))
    return {
      accessToken: await aviToken(Math.floor(Date.now() / 1000) + 3600, { n: minted }),
      armRequestId: `arm-${minted}`
    }
  }
  const ready = async (r: ReturnType<typeof replica>) => {
    const both = () => r.redis.status === 'ready' && r.subscriber.status === 'ready'
    for (let i = 0; i < 100 && !both(); i++) await new Promise((resolve) => setTimeout(resolve, 20))
    // The subscription is made on 'ready'; give it a moment to be confirmed.
    await new Promise((resolve) => setTimeout(resolve, 50))
  }

  t.test(
    'a token minted by one replica is served to another; Redis holds no raw id and no readable token',
    async (t) => {
      const a = replica()
      const b = replica()
      await Promise.all([ready(a), ready(b)])
      const before = minted
      const first = await a.cache.mintOnce('contoso/video/raw-id-123', () => mint())
      const second = await b.cache.mintOnce('contoso/video/raw-id-123', () => mint())
      t.equal(second.accessToken, first.accessToken)
      t.equal(minted - before, 1)
      const keys = await a.redis.keys('*')
      t.ok(keys.length > 0)
      t.notOk(
        keys.some((key) => key.includes('raw-id-123') || key.includes('video')),
        'keys are hashes'
      )
      const values = await Promise.all(keys.map((key) => a.redis.get(key)))
      t.notOk(
        values.some((value) => value?.includes(first.accessToken) || value?.includes('eyJ')),
        'values are sealed'
      )
      const ttl = await a.redis.pttl(keys[0] as string)
      t.ok(ttl > 3_200_000 && ttl <= 3_300_000, 'TTL is expiry minus the minimum remaining life')
    }
  )

  t.test('replicas that miss together make one mint between them', async (t) => {
    const replicas = [replica(), replica(), replica()]
    await Promise.all(replicas.map(ready))
    const before = minted
    const results = await Promise.all(
      replicas.flatMap((r) => [r, r].map(() => r.cache.mintOnce('contoso/video/together', () => mint(150))))
    )
    t.equal(minted - before, 1)
    t.equal(new Set(results.map((r) => r.accessToken)).size, 1)
  })

  t.test('if the lock holder dies, the lock expires and another replica mints', async (t) => {
    const a = replica({ lockMs: 300 })
    await ready(a)
    await a.redis.set(`vi-token-broker:lock:${sha256(tokenKey(request('orphan')))}`, 'dead-replica', 'PX', 300)
    const before = minted
    const token = await a.cache.mintOnce('contoso/video/orphan', () => mint())
    t.ok(token.accessToken)
    t.equal(minted - before, 1)
  })

  t.test('a value planted under the wrong key or tampered with is never served', async (t) => {
    const a = replica()
    await ready(a)
    const source = await a.cache.mintOnce('contoso/video/source', () => mint())
    const keyFor = (id: string) => sharedTokenKey(request(id))
    const sealed = (await a.redis.get(keyFor('source'))) as string
    await a.redis.set(keyFor('victim'), sealed)
    const victim = await a.cache.mintOnce('contoso/video/victim', () => mint())
    t.not(victim.accessToken, source.accessToken, 'the planted token was not served')
    const parts = sealed.split('.')
    await a.redis.set(keyFor('tampered'), [...parts.slice(0, 4), `A${(parts[4] as string).slice(1)}`].join('.'))
    const tampered = await a.cache.mintOnce('contoso/video/tampered', () => mint())
    t.not(tampered.accessToken, source.accessToken)
    // Each key is read twice (before and after taking the lock), and both reads reject the value.
    t.match(await a.metrics.registry.metrics(), /vi_broker_shared_cache_results_total\{result="rejected"\} 4/)
    t.equal(a.logs.records.filter((r) => r.msg === 'a shared cache value failed to open; treated as a miss').length, 4)
  })

  t.test(
    'with Redis down, minting falls back to local and the circuit opens; it recovers when Redis returns',
    async (t) => {
      const a = replica()
      await ready(a)
      await redisServer.kill()
      const before = minted
      for (let i = 0; i < 5; i++) t.ok((await a.cache.mintOnce(`contoso/video/down${i}`, () => mint())).accessToken)
      t.equal(minted - before, 5, 'every request was still served')
      t.match(await a.metrics.registry.metrics(), /vi_broker_redis_circuit_open 1/)
      t.ok(a.logs.records.some((r) => /circuit open/.test(String(r.msg))))
      await redisServer.restart()
      await ready(a)
      await new Promise((resolve) => setTimeout(resolve, 250))
      await a.cache.mintOnce('contoso/video/back', () => mint())
      t.match(await a.metrics.registry.metrics(), /vi_broker_redis_circuit_open 0/)
      t.equal((await a.redis.keys('vi-token-broker:token:*')).length, 1, 'Redis is used again without a restart')
    }
  )

  t.test('the app wires the Redis tier: a token it mints is stored sealed under a hashed key', async (t) => {
    const redis = new Redis(redisServer.url, { enableOfflineQueue: false, maxRetriesPerRequest: 0 })
    redis.on('error', () => {})
    t.teardown(() => redis.disconnect())
    await new Promise((resolve) => redis.once('ready', resolve))
    await redis.flushall()
    const { request } = await build(t, {
      redis,
      env: { REDIS_URL: redisServer.url, CACHE_ENCRYPTION_KEY: `k1:${randomBytes(32).toString('base64')}` }
    })
    const response = await request({ url: '/tokens/video/wired', token: await callerToken('portal-bff') })
    t.equal(response.statusCode, 200)
    const keys = await redis.keys('vi-token-broker:token:*')
    t.equal(keys.length, 1)
    t.notMatch((await redis.get(keys[0] as string)) ?? '', /eyJ/)
  })

  t.test('a due shared token: served to a caller, replaced by a refresh; one without exp is not shared', async (t) => {
    const a = replica()
    const b = replica()
    await Promise.all([ready(a), ready(b)])
    const due = await a.cache.mintOnce('contoso/video/due', async () => ({
      accessToken: await aviToken(Math.floor(Date.now() / 1000) + 300 + 900 - 10),
      armRequestId: 'due'
    }))
    const before = minted
    const served = await b.cache.mintOnce('contoso/video/due', () => mint())
    t.equal(served.accessToken, due.accessToken, 'a caller on another replica is served it at once')
    t.equal(minted, before, 'without a mint')
    const replaced = await b.shared.get({ ...request('due'), priority: 'background' })
    t.not(replaced.accessToken, due.accessToken, 'inside the refresh-ahead window, a background refresh mints anew')
    t.equal(minted, before + 1)
    t.equal((await a.cache.mintOnce('contoso/video/due', () => mint())).accessToken, replaced.accessToken)
    const opaque = await a.cache.mintOnce('contoso/video/opaque', async () => ({
      accessToken: 'not-a-jwt',
      armRequestId: 'x'
    }))
    t.equal(opaque.accessToken, 'not-a-jwt')
    t.equal(await a.redis.get(sharedTokenKey(request('opaque'))), null)
    const noExp = await new SignJWT({ sub: 'x' }).setProtectedHeader({ alg: 'HS256' }).sign(new Uint8Array(32))
    await a.cache.mintOnce('contoso/video/no-exp', async () => ({ accessToken: noExp, armRequestId: 'x' }))
    t.equal(await a.redis.get(sharedTokenKey(request('no-exp'))), null)
  })

  t.test("a replica that waits past its deadline for another replica's mint mints itself", async (t) => {
    const a = replica({ lockMs: 200 })
    await ready(a)
    await a.redis.set(`vi-token-broker:lock:${sha256(tokenKey(request('stuck')))}`, 'slow-replica', 'PX', 60_000)
    const before = minted
    t.ok((await a.cache.mintOnce('contoso/video/stuck', () => mint())).accessToken)
    t.equal(minted - before, 1)
    t.match(await a.metrics.registry.metrics(), /vi_broker_shared_cache_results_total\{result="wait-timeout"\} 1/)
  })

  t.test('an eviction deletes the shared copy and every replica hears of it', async (t) => {
    const a = replica()
    const b = replica()
    await Promise.all([ready(a), ready(b)])
    await a.redis.flushall()
    await a.cache.mintOnce('contoso/video/evict-one', () => mint())
    t.equal(await a.shared.evict(request('evict-one')), 1)
    t.equal(await a.redis.get(sharedTokenKey(request('evict-one'))), null, 'the Redis copy is gone')
    const one = { token: tokenKey(request('evict-one')) }
    await until(() => b.heard.length > 0 && a.heard.length > 0)
    t.same(b.heard, [one], 'another replica hears of it')
    t.same(a.heard, [one], 'and so does the one that evicted')
    await a.cache.mintOnce('contoso/video/evict-all-1', () => mint())
    await a.cache.mintOnce('contoso/video/evict-all-2', () => mint())
    const foreign = `vi-token-broker:token:${sha256('another-account')}:abc`
    await a.redis.set(foreign, 'x')
    t.equal(await a.shared.evict({ account: ACCOUNT }), 2, "every token of this account, and only this account's")
    t.equal(await a.redis.get(foreign), 'x')
    await until(() => b.heard.length > 1)
    t.same(b.heard.at(-1), { account: accountKey(ACCOUNT) })
  })

  t.test('a subscriber connection that is ready already is listened on at once', async (t) => {
    const a = replica()
    await ready(a)
    const subscriber = a.redis.duplicate()
    t.teardown(() => subscriber.disconnect())
    await new Promise((resolve) => subscriber.once('ready', resolve))
    const heard: EvictedKeys[] = []
    createSharedCache({
      source: { get: () => Promise.reject(new Error('not used')) },
      redis: a.redis,
      subscriber,
      keyring: () => keyring,
      clock: systemClock,
      logger: pino(new LogCapture()),
      metrics: createMetrics(),
      minRemainingSeconds: 300,
      refreshAheadSeconds: 900,
      lockMs: 2_000
    }).onEvicted((keys) => heard.push(keys))
    await new Promise((resolve) => setTimeout(resolve, 50))
    await a.shared.evict(request('heard-at-once'))
    await until(() => heard.length > 0)
    t.same(heard, [{ token: tokenKey(request('heard-at-once')) }])
  })

  t.test('an eviction message that does not open is ignored', async (t) => {
    const a = replica()
    await ready(a)
    const forger = parseKeyring(`k1:${randomBytes(32).toString('base64')}`)
    await a.redis.publish(EVICT_CHANNEL, seal(forger, JSON.stringify({ account: accountKey(ACCOUNT) }), EVICT_CHANNEL))
    await a.redis.publish(EVICT_CHANNEL, seal(keyring, JSON.stringify({ something: 'else' }), EVICT_CHANNEL))
    const ignored = () => a.logs.records.filter((r) => r.msg === 'an eviction message failed to open; ignored')
    await until(() => ignored().length === 2)
    t.equal(ignored().length, 2)
    t.same(a.heard, [])
  })

  t.test('with Redis down an eviction is refused; a replica that stopped listening drops all', async (t) => {
    const a = replica()
    await ready(a)
    await redisServer.kill()
    await t.rejects(a.shared.evict(request('during-outage')), { code: 'EVICTION_INCOMPLETE', statusCode: 503 })
    const broker = await build(t, {
      redis: a.redis,
      env: { REDIS_URL: redisServer.url, CACHE_ENCRYPTION_KEY: `k1:${randomBytes(32).toString('base64')}` },
      policy: { callers: { 'ops-bff': { allow: [], admin: true } } }
    })
    const response = await broker.request({ method: 'DELETE', url: '/cache', token: await callerToken('ops-bff') })
    t.equal(response.statusCode, 503, 'the operator is told the fleet still holds it')
    t.equal(response.json().error.code, 'EVICTION_INCOMPLETE')
    t.equal(response.headers['retry-after'], '5')
    await redisServer.restart()
    await ready(a)
    await until(() => a.heard.length > 0)
    t.same(a.heard, [{ all: true }], 'evictions made while it was not listening may have been missed')
  })
}
