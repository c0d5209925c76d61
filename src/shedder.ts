/**
 * Decides what share of requests to shed from the event loop's lag, the time a request arriving now
 * waits before the loop can handle it. In the manner of CoDel, only a delay that stands for two
 * control intervals in a row counts, so one slow tick (a GC pause, a descheduled process) never sheds
 * and a busy loop that turns around quickly never does. In the manner of PIE, the share shed moves
 * each interval in proportion to how far that delay is over the target: it rises while callers wait
 * too long and falls back to zero within a few intervals once they no longer do.
 */
export interface ShedderOptions {
  /** The queueing delay callers may see; above it, a share of requests is shed. */
  targetDelayMs: number
  intervalMs: number
  random?: () => number
  /** Called as each interval closes, for metrics. */
  onInterval: (state: ShedderState) => void
}

export interface ShedderState {
  /** The standing delay: the lower mean lag of the last two intervals. */
  delayMs: number
  probability: number
}

export interface Shedder {
  /** One probe's lateness, measured at `now` (milliseconds on a monotonic clock). */
  observe(now: number, lagMs: number): void
  /** True for the share of requests to shed now. */
  shed(): boolean
  state(): ShedderState
}

/** The probability added per interval for each target's worth of standing delay over the target. */
const GAIN = 0.25
/** Some requests always get through: shedding every one would only hide whether the loop recovered. */
export const MAX_SHED_PROBABILITY = 0.95

export function createShedder (options: ShedderOptions): Shedder {
  const { targetDelayMs, intervalMs, random = Math.random } = options
  let startedAt: number | undefined
  let sum = 0
  let count = 0
  let previousMean = 0
  let state: ShedderState = { delayMs: 0, probability: 0 }

  function close (now: number): void {
    const mean = sum / count
    const delayMs = Math.min(mean, previousMean)
    const probability = state.probability + (GAIN * (delayMs - targetDelayMs)) / targetDelayMs
    state = { delayMs, probability: Math.min(MAX_SHED_PROBABILITY, Math.max(0, probability)) }
    previousMean = mean
    sum = 0
    count = 0
    startedAt = now
    options.onInterval(state)
  }

  return {
    observe (now, lagMs) {
      startedAt ??= now
      sum += Math.max(0, lagMs)
      count++
      if (now - startedAt >= intervalMs) close(now)
    },
    shed: () => state.probability > 0 && random() < state.probability,
    state: () => state
  }
}
