import type { Clock } from './clock.js'

export type CircuitState = 'closed' | 'open'

export interface CircuitBreaker {
  /** Runs the call unless the circuit is open; a failure or an open circuit returns the fallback. */
  run<T>(call: () => Promise<T>, fallback: T): Promise<T>
  readonly state: CircuitState
}

/**
 * Stops calling a failing dependency: after `failureThreshold` failures in a row the circuit opens
 * for `openMs`, then one call is let through to probe; a success closes it again.
 */
export function createCircuitBreaker (options: {
  failureThreshold: number
  openMs: number
  clock: Clock
  onChange?: (state: CircuitState, error?: unknown) => void
}): CircuitBreaker {
  const now = () => options.clock.now()
  let failures = 0
  let openUntil = 0
  let state: CircuitState = 'closed'

  function change (next: CircuitState, error?: unknown) {
    if (next === state) return
    state = next
    options.onChange?.(next, error)
  }

  return {
    get state () {
      return state
    },
    async run (call, fallback) {
      if (state === 'open' && now() < openUntil) return fallback
      try {
        const result = await call()
        failures = 0
        change('closed')
        return result
      } catch (error) {
        failures++
        if (state === 'open' || failures >= options.failureThreshold) {
          openUntil = now() + options.openMs
          change('open', error)
        }
        return fallback
      }
    }
  }
}
