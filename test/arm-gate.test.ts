import t from 'tap'
import { systemClock } from '../src/clock.js'
import { createArmGate, LOW_REMAINING_WRITES } from '../src/arm-gate.js'
import { fakeClock } from './support/fake-clock.js'

const never = () => new AbortController().signal

t.test('at most maxConcurrency callers hold a slot; the rest queue in order', async (t) => {
  const gate = createArmGate({ maxConcurrency: 2, clock: systemClock })
  const first = await gate.acquire(never())
  const second = await gate.acquire(never())
  const order: string[] = []
  const third = gate.acquire(never()).then((release) => {
    order.push('third')
    return release
  })
  const fourth = gate.acquire(never()).then((release) => {
    order.push('fourth')
    return release
  })
  t.match(gate.stats(), { inFlight: 2, queued: 2 })
  first()
  ;(await third)()
  second()
  ;(await fourth)()
  t.same(order, ['third', 'fourth'])
  t.match(gate.stats(), { inFlight: 0, queued: 0 })
})

t.test('a queued caller gives up at its deadline with ARM_TIMEOUT and leaves the queue', async (t) => {
  const gate = createArmGate({ maxConcurrency: 1, clock: systemClock })
  const held = await gate.acquire(never())
  const deadline = new AbortController()
  const waiting = gate.acquire(deadline.signal)
  deadline.abort()
  await t.rejects(waiting, { code: 'ARM_TIMEOUT', details: [{ code: 'Queued' }] })
  t.equal(gate.stats().queued, 0)
  await t.rejects(gate.acquire(deadline.signal), { code: 'ARM_TIMEOUT' }, 'an expired deadline does not queue')
  held()
  t.equal(gate.stats().inFlight, 0)
})

t.test('a throttle hold refuses every acquire with the remaining wait, then lifts', async (t) => {
  const clock = fakeClock()
  const gate = createArmGate({ maxConcurrency: 4, clock })
  gate.hold(5_000)
  await t.rejects(gate.acquire(never()), { code: 'ARM_THROTTLED', statusCode: 503, retryAfterSeconds: 5 })
  clock.advance(3_500)
  await t.rejects(gate.acquire(never()), { code: 'ARM_THROTTLED', retryAfterSeconds: 2 })
  gate.hold(1_000)
  t.equal(gate.stats().holdRemainingMs, 1_500, 'a shorter hold never shortens the current one')
  clock.advance(1_500)
  const release = await gate.acquire(never())
  release()
})

t.test('a queued caller granted a slot during a hold is refused and frees the slot', async (t) => {
  const clock = fakeClock()
  const gate = createArmGate({ maxConcurrency: 1, clock })
  const held = await gate.acquire(never())
  const waiting = gate.acquire(never())
  gate.hold(2_000)
  held()
  await t.rejects(waiting, { code: 'ARM_THROTTLED' })
  t.equal(gate.stats().inFlight, 0)
})

t.test('with few writes left, calls are spaced to the refill rate', async (t) => {
  const gate = createArmGate({ maxConcurrency: 8, clock: systemClock })
  gate.observeRemainingWrites(LOW_REMAINING_WRITES - 1)
  t.equal(gate.stats().remainingWrites, LOW_REMAINING_WRITES - 1)
  const started = performance.now()
  const releases = await Promise.all([gate.acquire(never()), gate.acquire(never()), gate.acquire(never())])
  releases.forEach((release) => release())
  // Three starts spaced 100 ms apart: the last waited at least ~200 ms (a lower bound, not a timing target).
  t.ok(performance.now() - started >= 190)
  const deadline = new AbortController()
  const paced = gate.acquire(deadline.signal)
  const next = gate.acquire(deadline.signal)
  deadline.abort()
  const settled = await Promise.allSettled([paced, next])
  t.ok(
    settled.some((r) => r.status === 'rejected' && (r.reason as { code: string }).code === 'ARM_TIMEOUT'),
    'pacing honours the deadline'
  )
  for (const r of settled) if (r.status === 'fulfilled') r.value()
  t.equal(gate.stats().inFlight, 0)
})
