/**
 * Wall-clock time in epoch milliseconds, injected everywhere so tests can move time. (Elapsed
 * durations, such as deadlines and latencies, use the monotonic performance.now().)
 */
export interface Clock {
  now(): number
}

export const systemClock: Clock = { now: () => Date.now() }
