/**
 * Decides what share of requests to shed from the event loop's lag, the time a request arriving now
 * waits before the loop can handle it. In the manner of CoDel, the delay that counts is the lowest lag
 * seen over two control intervals: a queue that stands makes every probe late, while stalls between
 * prompt turns do not (a GC pause, a descheduled process, or a CPU quota that freezes the process for
 * most of each CFS period and then lets it run). So a busy loop that turns around quickly never sheds,
 * even at its CPU limit. In the manner of PIE, the share shed moves
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
  /** The standing delay: the lowest lag of the last two intervals. */
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
  let lowest = Number.POSITIVE_INFINITY
  let previousLowest = 0
  let state: ShedderState = { delayMs: 0, probability: 0 }

  function close (now: number): void {
    const delayMs = Math.min(lowest, previousLowest)
    const probability = state.probability + (GAIN * (delayMs - targetDelayMs)) / targetDelayMs
    state = { delayMs, probability: Math.min(MAX_SHED_PROBABILITY, Math.max(0, probability)) }
    previousLowest = lowest
    lowest = Number.POSITIVE_INFINITY
    startedAt = now
    options.onInterval(state)
  }

  return {
    observe (now, lagMs) {
      startedAt ??= now
      lowest = Math.min(lowest, Math.max(0, lagMs))
      if (now - startedAt >= intervalMs) close(now)
    },
    shed: () => state.probability > 0 && random() < state.probability,
    state: () => state
  }
}
