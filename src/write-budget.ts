import type { Clock } from './clock.js'

/** ARM's write bucket, as the broker paces to it (ARM_WRITE_BURST, ARM_WRITES_PER_SECOND). */
export interface WriteBucket {
  burst: number
  perSecond: number
}

/** Whether a write may go: now or after a wait, or not at all (held after a 429, or too long a wait). */
export type Reservation =
  | { granted: true; waitMs: number }
  | { granted: false; reason: 'held' | 'empty' | 'background'; retryAfterMs: number }

export interface ReserveOptions {
  /** The longest wait a caller accepts; a longer one is refused and not reserved. */
  maxWaitMs: number
  /** A background refresh spends only spare budget: never waits, never dips into the reserve for callers. */
  background: boolean
}

/** The throttle state of one (identity, subscription) key, or of all keys: local, or the fleet's in Redis. */
export interface ThrottleState {
  reserve(key: string, options: ReserveOptions): Promise<Reservation>
  /** After a 429: no write for this key, for this long. */
  hold(key: string, ms: number): Promise<void>
  /** x-ms-ratelimit-remaining-subscription-writes, ARM's own count, corrects the estimate downwards. */
  observe(key: string, remaining: number): Promise<void>
}

export interface LocalThrottle extends ThrottleState {
  /** What this replica knows now, without waiting: for choosing an identity. */
  view(key: string): { heldMs: number; remaining: number }
}

/** Share of the bucket kept for callers who wait: background refreshes stop above it. */
export const CALLER_RESERVE = 0.1

/** The spare writes a background refresh needs before it may spend one. */
export function backgroundFloor (bucket: WriteBucket): number {
  return Math.max(1, Math.ceil(bucket.burst * CALLER_RESERVE))
}

/**
 * One replica's model of ARM's token bucket per key: it refills at the configured rate, each write
 * takes one (a write that finds it empty reserves the next refill and waits for it), and ARM's
 * remaining-writes header lowers it when others share the identity.
 */
export function createLocalThrottle (options: { bucket: WriteBucket; clock: Clock }): LocalThrottle {
  const { bucket, clock } = options
  const state = new Map<string, { tokens: number; at: number; holdUntil: number }>()
  const floor = backgroundFloor(bucket)

  function current (key: string) {
    const now = clock.now()
    let entry = state.get(key)
    if (!entry) {
      entry = { tokens: bucket.burst, at: now, holdUntil: 0 }
      state.set(key, entry)
    }
    entry.tokens = Math.min(bucket.burst, entry.tokens + ((now - entry.at) / 1000) * bucket.perSecond)
    entry.at = now
    return { entry, now }
  }

  return {
    async reserve (key, { maxWaitMs, background }) {
      const { entry, now } = current(key)
      if (entry.holdUntil > now) return { granted: false, reason: 'held', retryAfterMs: entry.holdUntil - now }
      const waitMs = entry.tokens >= 1 ? 0 : Math.ceil(((1 - entry.tokens) * 1000) / bucket.perSecond)
      if (background && entry.tokens < floor + 1) {
        return { granted: false, reason: 'background', retryAfterMs: Math.max(waitMs, 1000 / bucket.perSecond) }
      }
      if (waitMs > maxWaitMs) return { granted: false, reason: 'empty', retryAfterMs: waitMs }
      entry.tokens -= 1
      return { granted: true, waitMs }
    },
    async hold (key, ms) {
      const { entry, now } = current(key)
      entry.holdUntil = Math.max(entry.holdUntil, now + ms)
    },
    async observe (key, remaining) {
      const { entry } = current(key)
      entry.tokens = Math.min(entry.tokens, remaining)
    },
    view (key) {
      const { entry, now } = current(key)
      return { heldMs: Math.max(0, entry.holdUntil - now), remaining: entry.tokens }
    }
  }
}
