// Two brokers (replicas) sharing one Redis and one emulator with a scaled-down ARM bucket: one throttle
// state for the fleet. Real ManagedIdentityCredential, core-rest-pipeline, ioredis and redis-server.
import { randomBytes } from 'node:crypto'
import { setTimeout as sleep } from 'node:timers/promises'
import t from 'tap'
import { build, emulatorFor, type Built } from '../helper.js'
import { missingRedis, replicaRedis, startRedis } from '../support/redis-server.js'

if (!missingRedis(t)) await main()

async function main (): Promise<void> {
  // ARM's shape scaled down: 4 writes per identity, back at 1 per second; the brokers pace to the same.
  const emulator = await emulatorFor(t, { writeLimits: { capacity: 4, refillPerSecond: 1 } })
  const redisServer = await startRedis(t)
  const env = {
    REDIS_URL: redisServer.url,
    CACHE_ENCRYPTION_KEY: `k1:${randomBytes(32).toString('base64')}`,
    ARM_WRITE_BURST: '4',
    ARM_WRITES_PER_SECOND: '1',
    ARM_TIMEOUT_MS: '1500',
    ARM_RETRY_AFTER_CAP_SECONDS: '1',
    LOG_LEVEL: 'info',
    // The shared test machine is busy; load shedding is not under test here.
    OVERLOAD_TARGET_DELAY_MS: '0'
  }
  async function replica (): Promise<Built> {
    const redis = await replicaRedis(t, redisServer.url)
    return build(t, { emulator, env, redis })
  }
  const [a, b] = [await replica(), await replica()] as [Built, Built]
  const portal = await emulator.mintCallerToken('portal-bff')
  const get = (broker: Built, id: string) =>
    broker.request({ method: 'GET', url: `/tokens/video/${id}`, token: portal })
  const armCalls = () => emulator.counters().arm.generateRestrictedViewerAccessToken

  t.test('the replicas pace to one bucket: what one spends, the other does not ask ARM for', async (t) => {
    const started = Date.now()
    const onA = await Promise.all([0, 1, 2, 3].map((i) => get(a, `paced${i}`)))
    t.same(
      onA.map((r) => r.statusCode),
      [200, 200, 200, 200]
    )
    // Replica b has spent nothing itself; alone, it would send these four into ARM's empty bucket.
    const onB = await Promise.all([0, 1, 2, 3].map((i) => get(b, `paced-on-b${i}`)))
    const refills = Math.floor((Date.now() - started) / 1000)
    t.ok(onB.some((r) => r.statusCode === 503), 'replica b knows the identity\'s bucket is (nearly) empty')
    t.match(onB.find((r) => r.statusCode === 503)?.json(), { error: { code: 'ARM_THROTTLED' } })
    t.ok(armCalls() <= 4 + refills, `ARM got ${armCalls()} writes: the bucket of 4 and ${refills} refill(s), no more`)
    t.equal(emulator.counters().arm.byStatus[429], undefined, 'and no 429')
  })

  t.test("one replica's 429 stops the other's mints for that identity for the whole Retry-After", async (t) => {
    await sleep(4_500) // the bucket refills
    emulator.setFault('arm', { status: 429, retryAfterSeconds: 3, count: 1 })
    const throttled = await get(a, 'held-on-a')
    t.equal(throttled.statusCode, 503)
    t.equal(throttled.json().error.code, 'ARM_THROTTLED')
    const heldAt = Date.now()
    const calls = armCalls()
    const onB = await get(b, 'held-on-b')
    t.equal(onB.statusCode, 503, 'replica b, which never saw the 429, holds too')
    t.ok(Number(onB.headers['retry-after']) >= 1)
    t.equal(armCalls(), calls, 'and does not call ARM')
    // Just before the Retry-After ends, b still holds; after it, b mints again.
    await sleep(Math.max(0, heldAt + 2_500 - Date.now()))
    t.equal((await get(b, 'still-held-on-b')).statusCode, 503)
    t.equal(armCalls(), calls, 'no ARM call during the hold')
    await sleep(Math.max(0, heldAt + 3_200 - Date.now()))
    t.equal((await get(b, 'after-hold-on-b')).statusCode, 200, 'the hold lifts after its Retry-After')
    t.equal(armCalls(), calls + 1)
  })

  t.test('with Redis down, each replica falls back to its own throttle state and keeps minting', async (t) => {
    await sleep(4_500) // the bucket refills
    await redisServer.kill()
    const statuses = []
    for (let i = 0; i < 4; i++) statuses.push((await get(b, `redis-down${i}`)).statusCode)
    const byStatus = JSON.stringify(emulator.counters().arm.byStatus)
    t.same(statuses, [200, 200, 200, 200], `the local bucket still has writes for b (ARM answers: ${byStatus})`)
    await redisServer.restart()
  })
}
