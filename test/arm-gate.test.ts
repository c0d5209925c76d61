import t from 'tap'
import { createArmGate, throttleKey, type AcquireOptions } from '../src/arm-gate.js'
import type { Clock } from '../src/clock.js'
import { systemClock } from '../src/clock.js'
import { createLocalThrottle, type WriteBucket } from '../src/write-budget.js'
import { fakeClock } from './support/fake-clock.js'

const never = () => new AbortController().signal
const SUB = 'b04775c3-63fa-40f3-9430-139d2e5522d3'
const A = throttleKey('id-a', SUB)
const B = throttleKey('id-b', SUB)

const ARM_BUCKET: WriteBucket = { burst: 200, perSecond: 10 }

function gateFor (maxConcurrency: number, clock: Clock = systemClock, bucket = ARM_BUCKET) {
  return createArmGate({ maxConcurrency, local: createLocalThrottle({ bucket, clock }) })
}
const caller = (signal = never(), maxWaitMs = 10_000): AcquireOptions => ({ signal, maxWaitMs, priority: 'caller' })
const background: AcquireOptions = { signal: never(), maxWaitMs: 10_000, priority: 'background' }

t.test('the key is the identity and the subscription, case-insensitively', async (t) => {
  t.equal(throttleKey('id-a', SUB.toUpperCase()), `id-a|${SUB}`)
})

t.test('at most maxConcurrency callers hold a slot; the rest queue in order', async (t) => {
  const gate = gateFor(2)
  const first = await gate.acquire([A], caller())
  const second = await gate.acquire([A], caller())
  const order: string[] = []
  const third = gate.acquire([A], caller()).then((admission) => {
    order.push('third')
    return admission
  })
  const fourth = gate.acquire([B], caller()).then((admission) => {
    order.push('fourth')
    return admission
  })
  t.match(gate.stats(), { inFlight: 2, queued: 2 })
  first.release()
  ;(await third).release()
  second.release()
  ;(await fourth).release()
  t.same(order, ['third', 'fourth'])
  t.match(gate.stats(), { inFlight: 0, queued: 0 })
})

t.test('a queued caller gives up at its deadline with ARM_TIMEOUT and leaves the queue', async (t) => {
  const gate = gateFor(1)
  const held = await gate.acquire([A], caller())
  const deadline = new AbortController()
  const waiting = gate.acquire([A], caller(deadline.signal))
  deadline.abort()
  await t.rejects(waiting, { code: 'ARM_TIMEOUT', details: [{ code: 'Queued' }] })
  t.equal(gate.stats().queued, 0)
  const late = gate.acquire([A], caller(deadline.signal))
  await t.rejects(late, { code: 'ARM_TIMEOUT' }, 'an expired deadline does not queue')
  held.release()
  t.equal(gate.stats().inFlight, 0)
})

t.test('a 429 holds only its identity; with all held, the shortest hold is the wait', async (t) => {
  const clock = fakeClock()
  const gate = gateFor(4, clock)
  gate.hold(A, 5_000)
  await t.rejects(gate.acquire([A], caller()), { code: 'ARM_THROTTLED', statusCode: 503, retryAfterSeconds: 5 })
  const other = await gate.acquire([A, B], caller())
  t.equal(other.key, B, 'the pool skips the held identity')
  other.release()
  t.equal(gate.holdRemainingMs([A, B]), 0)
  gate.hold(B, 2_000)
  await t.rejects(gate.acquire([A, B], caller()), { code: 'ARM_THROTTLED', retryAfterSeconds: 2 })
  clock.advance(3_500)
  await t.rejects(gate.acquire([A], caller()), { code: 'ARM_THROTTLED', retryAfterSeconds: 2 })
  gate.hold(A, 1_000)
  t.equal(gate.holdRemainingMs([A]), 1_500, 'a shorter hold never shortens the current one')
  clock.advance(1_500)
  ;(await gate.acquire([A], caller())).release()
})

t.test('a queued caller granted a slot during a hold is refused and frees the slot', async (t) => {
  const clock = fakeClock()
  const gate = gateFor(1, clock)
  const held = await gate.acquire([A], caller())
  const waiting = gate.acquire([A], caller())
  gate.hold(A, 2_000)
  held.release()
  await t.rejects(waiting, { code: 'ARM_THROTTLED' })
  t.equal(gate.stats().inFlight, 0)
})

t.test('mints go to the identity with the most writes left', async (t) => {
  const gate = gateFor(4, fakeClock())
  gate.observeRemainingWrites(A, 12)
  gate.observeRemainingWrites(B, 150)
  const first = await gate.acquire([A, B], caller())
  t.equal(first.key, B)
  first.release()
  gate.observeRemainingWrites(B, 3)
  const second = await gate.acquire([A, B], caller())
  t.equal(second.key, A, 'ARM saying fewer are left moves the next mint elsewhere')
  second.release()
})

t.test('an empty bucket makes each write wait for its refill, within the wait a caller accepts', async (t) => {
  const gate = gateFor(8, fakeClock(), { burst: 2, perSecond: 10 })
  const admissions = await Promise.all([1, 2, 3, 4].map(() => gate.acquire([A], caller())))
  t.same(
    admissions.map((a) => a.pacedMs),
    [0, 0, 100, 200],
    'two from the burst, then one per refill'
  )
  admissions.forEach((a) => a.release())
  await t.rejects(gate.acquire([A], caller(never(), 250)), {
    code: 'ARM_THROTTLED',
    retryAfterSeconds: 1,
    details: [{ code: 'WriteBudgetEmpty' }]
  })
  const after = await gate.acquire([A], caller(never(), 300))
  t.equal(after.pacedMs, 300, 'the refused wait reserved nothing')
  after.release()
  const deadline = new AbortController()
  const paced = gate.acquire([A], caller(deadline.signal))
  deadline.abort()
  await t.rejects(paced, { code: 'ARM_TIMEOUT' }, 'pacing honours the deadline')
  t.equal(gate.stats().inFlight, 0)
})

t.test('a background refresh spends only what callers leave', async (t) => {
  const clock = fakeClock()
  const gate = gateFor(1, clock, { burst: 20, perSecond: 2 })
  const slot = await gate.acquire([A], caller())
  const deferred = { code: 'ARM_THROTTLED', details: [{ code: 'RefreshDeferred' }] }
  await t.rejects(gate.acquire([A], background), deferred, 'no free slot')
  const queued = gate.acquire([A], caller())
  slot.release()
  ;(await queued).release()
  for (let i = 0; i < 16; i++) (await gate.acquire([A], background)).release()
  await t.rejects(
    gate.acquire([A], background),
    { code: 'ARM_THROTTLED', details: [{ code: 'RefreshDeferred' }] },
    '20 - 2 by callers - 16: the last 2 of 20 (10%) are kept for callers'
  )
  const waited = await gate.acquire([A], caller())
  t.equal(waited.pacedMs, 0, 'a caller still mints at once')
  waited.release()
  clock.advance(1_000)
  ;(await gate.acquire([A], background)).release()
})
