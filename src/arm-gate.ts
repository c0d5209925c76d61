import { setTimeout as sleep } from 'node:timers/promises'
import type { Clock } from './clock.js'
import { brokerError } from './errors.js'

/** Below this many remaining writes, calls are spaced to ARM's refill rate instead of draining the bucket. */
export const LOW_REMAINING_WRITES = 20
/** ARM refills a subscription's write bucket at 10 per second. */
const REFILL_INTERVAL_MS = 100

export interface ArmGateStats {
  inFlight: number
  queued: number
  holdRemainingMs: number
  remainingWrites: number | undefined
}

export interface ArmGate {
  /**
   * Waits for one of the concurrency slots (first come, first served) and returns its release.
   * Rejects with ARM_THROTTLED while a throttle hold is in force, and ARM_TIMEOUT if the signal
   * (the caller's deadline) fires first.
   */
  acquire(signal: AbortSignal): Promise<() => void>
  /** After a 429: no new ARM call, for any key, for this long. */
  hold(ms: number): void
  /** Reads x-ms-ratelimit-remaining-subscription-writes from each ARM answer. */
  observeRemainingWrites(remaining: number): void
  stats(): ArmGateStats
}

/**
 * Admission to ARM, shared by every key: ARM's write bucket is per subscription and identity, so
 * one 429 pauses all minting, concurrency is bounded, and a nearly empty bucket slows calls down.
 */
export function createArmGate (options: { maxConcurrency: number; clock: Clock }): ArmGate {
  const now = () => options.clock.now()
  const waiting: Array<() => void> = []
  let inFlight = 0
  let holdUntil = 0
  let remainingWrites: number | undefined
  let nextStartAt = 0

  function throwIfHeld (): void {
    const remaining = holdUntil - now()
    if (remaining > 0) throw brokerError('ARM_THROTTLED', { retryAfterSeconds: Math.ceil(remaining / 1000) })
  }

  // A released slot passes straight to the next waiter, so nobody can jump the queue.
  function release (): void {
    const next = waiting.shift()
    if (next) next()
    else inFlight--
  }

  async function takeSlot (signal: AbortSignal): Promise<void> {
    if (inFlight < options.maxConcurrency) {
      inFlight++
      return
    }
    if (signal.aborted) throw queueTimeout()
    await new Promise<void>((resolve, reject) => {
      const grant = () => {
        signal.removeEventListener('abort', onAbort)
        resolve()
      }
      const onAbort = () => {
        waiting.splice(waiting.indexOf(grant), 1)
        reject(queueTimeout())
      }
      waiting.push(grant)
      signal.addEventListener('abort', onAbort, { once: true })
    })
  }

  function queueTimeout () {
    return brokerError('ARM_TIMEOUT', {
      details: [{ code: 'Queued', message: 'ARM calls were at their concurrency limit until the deadline' }]
    })
  }

  return {
    async acquire (signal) {
      throwIfHeld()
      await takeSlot(signal)
      try {
        throwIfHeld()
        if (remainingWrites !== undefined && remainingWrites < LOW_REMAINING_WRITES) {
          const start = Math.max(now(), nextStartAt)
          nextStartAt = start + REFILL_INTERVAL_MS
          if (start > now()) await sleep(start - now(), undefined, { signal })
        }
      } catch (error) {
        release()
        throw signal.aborted ? brokerError('ARM_TIMEOUT', { cause: error }) : error
      }
      return release
    },
    hold (ms) {
      holdUntil = Math.max(holdUntil, now() + ms)
    },
    observeRemainingWrites (remaining) {
      remainingWrites = remaining
    },
    stats () {
      return { inFlight, queued: waiting.length, holdRemainingMs: Math.max(0, holdUntil - now()), remainingWrites }
    }
  }
}
