import type { Clock } from '../../src/clock.js'

/** A clock that moves only when told to. */
export function fakeClock (start = Date.UTC(2026, 10, 27, 12, 0, 0)): Clock & { advance(ms: number): void } {
  let now = start
  return {
    now: () => now,
    advance (ms) {
      now += ms
    }
  }
}
