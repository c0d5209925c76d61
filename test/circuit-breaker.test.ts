import t from 'tap'
import { createCircuitBreaker, type CircuitState } from '../src/circuit-breaker.js'
import { systemClock } from '../src/clock.js'
import { fakeClock } from './support/fake-clock.js'

t.test('opens after consecutive failures, short-circuits, probes after openMs, closes on success', async (t) => {
  const clock = fakeClock()
  const changes: CircuitState[] = []
  const breaker = createCircuitBreaker({
    failureThreshold: 2,
    openMs: 1_000,
    clock,
    onChange: (s) => changes.push(s)
  })
  let calls = 0
  const failing = async () => {
    calls++
    throw new Error('down')
  }
  t.equal(await breaker.run(failing, 'fallback'), 'fallback')
  t.equal(breaker.state, 'closed', 'one failure is not enough')
  await breaker.run(failing, 'fallback')
  t.equal(breaker.state, 'open')
  t.equal(await breaker.run(failing, 'fallback'), 'fallback')
  t.equal(calls, 2, 'no call while open')
  clock.advance(1_000)
  await breaker.run(failing, 'fallback')
  t.equal(calls, 3, 'one probe after openMs')
  t.equal(breaker.state, 'open', 'a failed probe keeps it open')
  clock.advance(1_000)
  t.equal(await breaker.run(async () => 'ok', 'fallback'), 'ok')
  t.equal(breaker.state, 'closed')
  t.same(changes, ['open', 'closed'])
})

t.test('a success resets the failure count', async (t) => {
  const breaker = createCircuitBreaker({ failureThreshold: 2, openMs: 1_000, clock: systemClock })
  await breaker.run(async () => {
    throw new Error('x')
  }, null)
  await breaker.run(async () => 'ok', null)
  await breaker.run(async () => {
    throw new Error('x')
  }, null)
  t.equal(breaker.state, 'closed')
})
