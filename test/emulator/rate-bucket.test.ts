import t from 'tap'
import { createRateBuckets } from '../../src/emulator/rate-bucket.js'
import { generateToken, managementToken, startTestEmulator } from './fixtures/helpers.js'

t.test('a bucket empties, refuses with Retry-After and refills with the clock', async (t) => {
  let clock = 0
  const buckets = createRateBuckets({ capacity: 3, refillPerSecond: 2, now: () => clock })
  t.same(buckets.take('a'), { allowed: true, remaining: 2, retryAfterSeconds: 0 })
  buckets.take('a')
  t.same(buckets.take('a'), { allowed: true, remaining: 0, retryAfterSeconds: 0 })
  t.same(buckets.take('a'), { allowed: false, remaining: 0, retryAfterSeconds: 1 })
  t.same(buckets.take('b'), { allowed: true, remaining: 2, retryAfterSeconds: 0 }, 'keys have their own buckets')
  clock += 500
  t.same(buckets.take('a'), { allowed: true, remaining: 0, retryAfterSeconds: 0 }, 'one token back after half a second')
  clock += 60_000
  t.same(buckets.take('a'), { allowed: true, remaining: 2, retryAfterSeconds: 0 }, 'refill stops at capacity')
  buckets.reset()
  t.same(buckets.take('a'), { allowed: true, remaining: 2, retryAfterSeconds: 0 })
})

t.test('a slow refill waits several seconds', async (t) => {
  const buckets = createRateBuckets({ capacity: 1, refillPerSecond: 0.25, now: () => 0 })
  buckets.take('a')
  t.equal(buckets.take('a').retryAfterSeconds, 4)
})

t.test('ARM throttles writes per subscription and principal: 200, then 10 per second', async (t) => {
  let clock = Date.now()
  const emulator = await startTestEmulator(t, { now: () => clock })
  const token = await managementToken(emulator)
  const otherPrincipal = await managementToken(emulator, 'resource=https://management.azure.com&client_id=other-app')

  let last
  for (let i = 0; i < 200; i++) last = await generateToken(emulator, token)
  t.equal(last?.status, 200)
  t.equal(last?.headers['x-ms-ratelimit-remaining-subscription-writes'], '0')

  const throttled = await generateToken(emulator, token)
  t.equal(throttled.status, 429)
  t.equal(throttled.json().error.code, 'SubscriptionRequestsThrottled')
  t.equal(throttled.headers['retry-after'], '1')
  t.equal(throttled.headers['x-ms-ratelimit-remaining-subscription-writes'], '0')

  const other = await generateToken(emulator, otherPrincipal)
  t.equal(other.status, 200, 'another principal has its own bucket')
  t.equal(other.headers['x-ms-ratelimit-remaining-subscription-writes'], '199')

  clock += 1000
  const refilled = await generateToken(emulator, token)
  t.equal(refilled.status, 200, 'ten tokens are back after a second')
  t.equal(refilled.headers['x-ms-ratelimit-remaining-subscription-writes'], '9')

  emulator.reset()
  const afterReset = await generateToken(emulator, token)
  t.equal(afterReset.headers['x-ms-ratelimit-remaining-subscription-writes'], '199', 'reset refills the buckets')
  t.same(emulator.counters().arm.byStatus, { 200: 1 })
})

t.test('a refund gives one token back, never beyond capacity', async (t) => {
  const buckets = createRateBuckets({ capacity: 2, refillPerSecond: 1, now: () => 0 })
  buckets.take('a')
  buckets.take('a')
  buckets.refund('a')
  t.same(buckets.take('a'), { allowed: true, remaining: 0, retryAfterSeconds: 0 })
  buckets.refund('a')
  buckets.refund('a')
  buckets.refund('a')
  t.equal(buckets.take('a').remaining, 1, 'capped at 2')
})

t.test('a scaled-down bucket and a subscription-wide cap shared by every principal', async (t) => {
  let clock = Date.now()
  const emulator = await startTestEmulator(t, {
    now: () => clock,
    writeLimits: { capacity: 3, refillPerSecond: 1, subscriptionMultiplier: 2 }
  })
  const tokens = await Promise.all(
    ['app-a', 'app-b', 'app-c'].map((id) =>
      managementToken(emulator, `resource=https://management.azure.com&client_id=${id}`)
    )
  )
  const [a, b, c] = tokens as [string, string, string]
  const statuses = []
  for (let i = 0; i < 4; i++) statuses.push((await generateToken(emulator, a)).status)
  t.same(statuses, [200, 200, 200, 429], 'the principal bucket holds 3')
  t.equal((await generateToken(emulator, b)).headers['x-ms-ratelimit-remaining-subscription-writes'], '2')
  await generateToken(emulator, b)
  await generateToken(emulator, b)
  const capped = await generateToken(emulator, c)
  t.equal(capped.status, 429, 'six writes empty the subscription bucket of 2 × 3, though c has not written')
  t.equal(capped.json().error.code, 'SubscriptionRequestsThrottled')
  t.ok(Number(capped.headers['retry-after']) >= 1)
  clock += 1000
  const back = await generateToken(emulator, c)
  t.equal(back.status, 200, 'the subscription bucket refills at 2 × 1 per second')
  t.equal(back.headers['x-ms-ratelimit-remaining-subscription-writes'], '1', 'the lower of the two buckets')
})
