import { setTimeout as sleep } from 'node:timers/promises'
import { brokerError, type BrokerError } from './errors.js'
import type { MintPriority } from './token-source.js'
import type { LocalThrottle, Reservation, ThrottleState } from './write-budget.js'

export interface ArmGateStats {
  inFlight: number
  queued: number
}

export interface Admission {
  /** The (identity, subscription) key the write was admitted on. */
  key: string
  /** How long the write bucket made it wait. */
  pacedMs: number
  release(): void
}

export interface ArmGate {
  /**
   * Admits one ARM write on the best of the keys (one per identity, for one subscription): not held,
   * most writes left. Waits for a concurrency slot (callers first come, first served) and for the
   * bucket to refill if it is empty. Rejects with ARM_THROTTLED while every key is held or the wait
   * would pass maxWaitMs, and ARM_TIMEOUT if the signal (the caller's deadline) fires first. A background
   * refresh is refused (ARM_THROTTLED, RefreshDeferred) unless a slot and spare budget are free now.
   */
  acquire(keys: readonly string[], options: AcquireOptions): Promise<Admission>
  /** After a 429 on this key: no new ARM call on it for this long (fleet-wide when the state is shared). */
  hold(key: string, ms: number): void
  /** Reads x-ms-ratelimit-remaining-subscription-writes from each ARM answer. */
  observeRemainingWrites(key: string, remaining: number): void
  /** Milliseconds until any of the keys is free of a hold (0: one is free now). */
  holdRemainingMs(keys: readonly string[]): number
  stats(): ArmGateStats
}

export interface AcquireOptions {
  signal: AbortSignal
  maxWaitMs: number
  priority: MintPriority
}

export interface ArmGateOptions {
  maxConcurrency: number
  /** This replica's view, used to choose a key; also the throttle state when none is shared. */
  local: LocalThrottle
  /** The fleet's throttle state (Redis), when configured; it keeps `local` up to date. */
  shared?: ThrottleState | undefined
  onError?: (error: unknown) => void
}

/** The identity and subscription a write is counted against, as ARM counts it. */
export function throttleKey (identity: string, subscriptionId: string): string {
  return `${identity}|${subscriptionId.toLowerCase()}`
}

/**
 * Admission to ARM. ARM's write bucket is per subscription and identity, so a 429 holds only that
 * key, concurrency is bounded across all keys, and an empty bucket makes writes wait for its refill.
 */
export function createArmGate (options: ArmGateOptions): ArmGate {
  const { local } = options
  const state = options.shared ?? local
  const waiting: Array<() => void> = []
  let inFlight = 0

  function release (): void {
    // A released slot passes straight to the next waiter, so nobody can jump the queue.
    const next = waiting.shift()
    if (next) next()
    else inFlight--
  }

  async function takeSlot (signal: AbortSignal, priority: MintPriority): Promise<void> {
    if (inFlight < options.maxConcurrency && waiting.length === 0) {
      inFlight++
      return
    }
    if (priority === 'background') throw deferred(0)
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

  /** Keys in the order to try them: free before held, then most remaining writes first. */
  function ranked (keys: readonly string[]): string[] {
    const views = new Map(keys.map((key) => [key, local.view(key)]))
    return [...keys].sort((a, b) => {
      const x = views.get(a) as { heldMs: number; remaining: number }
      const y = views.get(b) as { heldMs: number; remaining: number }
      return x.heldMs - y.heldMs || y.remaining - x.remaining
    })
  }

  async function reserve (keys: readonly string[], options: AcquireOptions) {
    let refusal: Extract<Reservation, { granted: false }> | undefined
    for (const key of ranked(keys)) {
      const background = options.priority === 'background'
      const reservation = await state.reserve(key, { maxWaitMs: options.maxWaitMs, background })
      if (reservation.granted) return { key, waitMs: reservation.waitMs }
      if (refusal === undefined || reservation.retryAfterMs < refusal.retryAfterMs) refusal = reservation
    }
    throw refused(refusal as Extract<Reservation, { granted: false }>)
  }

  return {
    async acquire (keys, acquireOptions) {
      const { signal, priority } = acquireOptions
      const held = this.holdRemainingMs(keys)
      if (held > 0) throw refused({ granted: false, reason: 'held', retryAfterMs: held })
      await takeSlot(signal, priority)
      try {
        const { key, waitMs } = await reserve(keys, acquireOptions)
        if (waitMs > 0) await sleep(waitMs, undefined, { signal })
        return { key, pacedMs: waitMs, release }
      } catch (error) {
        release()
        throw signal.aborted ? brokerError('ARM_TIMEOUT', { cause: error }) : error
      }
    },
    hold (key, ms) {
      void local.hold(key, ms)
      if (options.shared) options.shared.hold(key, ms).catch(options.onError)
    },
    observeRemainingWrites (key, remaining) {
      void local.observe(key, remaining)
      if (options.shared) options.shared.observe(key, remaining).catch(options.onError)
    },
    holdRemainingMs (keys) {
      return Math.min(...keys.map((key) => local.view(key).heldMs))
    },
    stats () {
      return { inFlight, queued: waiting.length }
    }
  }
}

function refused (refusal: Extract<Reservation, { granted: false }>): BrokerError {
  if (refusal.reason === 'background') return deferred(refusal.retryAfterMs)
  const retryAfterSeconds = Math.max(1, Math.ceil(refusal.retryAfterMs / 1000))
  const details =
    refusal.reason === 'empty'
      ? [{ code: 'WriteBudgetEmpty', message: "ARM's write budget for the broker's identities is spent for now" }]
      : undefined
  return brokerError('ARM_THROTTLED', { retryAfterSeconds, ...(details ? { details } : {}) })
}

function deferred (retryAfterMs: number): BrokerError {
  return brokerError('ARM_THROTTLED', {
    retryAfterSeconds: Math.max(1, Math.ceil(retryAfterMs / 1000)),
    details: [{ code: 'RefreshDeferred', message: 'a background refresh waits for spare ARM budget' }]
  })
}

/** A background refresh the gate turned away to leave the budget to callers. */
export function isDeferredRefresh (error: unknown): boolean {
  return (error as BrokerError | undefined)?.details?.[0]?.code === 'RefreshDeferred'
}

function queueTimeout () {
  return brokerError('ARM_TIMEOUT', {
    details: [{ code: 'Queued', message: 'ARM calls were at their concurrency limit until the deadline' }]
  })
}
