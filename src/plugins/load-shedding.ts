import { monitorEventLoopDelay, performance } from 'node:perf_hooks'
import type { FastifyInstance } from 'fastify'
import fp from 'fastify-plugin'
import { brokerError } from '../errors.js'

export interface LoadSheddingOptions {
  /** Mean event-loop delay over a sample window beyond which requests are shed; 0 turns it off. */
  maxEventLoopDelayMs: number
  /** Event-loop utilization (0..1) over a sample window beyond which requests are shed; 0 turns it off. */
  maxEventLoopUtilization: number
  sampleIntervalMs: number
  /** Called for each request shed (counted in a metric). */
  onShed?: () => void
}

/**
 * Sheds requests with 503 OVERLOADED while the event loop is saturated, before any work is done for
 * them. The load is sampled when requests arrive (at most once per interval), so a burst is seen by
 * the very next request. (@fastify/under-pressure was used first, but it reads process.memoryUsage()
 * on a timer, which throws without /proc, as in the container check, and killed the process.)
 */
export default fp(
  async function loadShedding (app: FastifyInstance, options: LoadSheddingOptions) {
    const { maxEventLoopDelayMs, maxEventLoopUtilization, sampleIntervalMs } = options
    if (maxEventLoopDelayMs === 0 && maxEventLoopUtilization === 0) return
    const delays = monitorEventLoopDelay({ resolution: 10 })
    delays.enable()
    let utilizationMark = performance.eventLoopUtilization()
    let sampledAt = performance.now()
    let overloaded = false

    app.addHook('onClose', async () => delays.disable())
    app.addHook('onRequest', async () => {
      const now = performance.now()
      if (now - sampledAt >= sampleIntervalMs) {
        const mark = performance.eventLoopUtilization()
        const utilization = performance.eventLoopUtilization(mark, utilizationMark).utilization
        // NaN when nothing was recorded yet, which compares as not overloaded.
        const delayMs = delays.mean / 1e6
        overloaded =
          (maxEventLoopDelayMs > 0 && delayMs > maxEventLoopDelayMs) ||
          (maxEventLoopUtilization > 0 && utilization > maxEventLoopUtilization)
        delays.reset()
        utilizationMark = mark
        sampledAt = now
      }
      if (overloaded) {
        options.onShed?.()
        throw brokerError('OVERLOADED', { retryAfterSeconds: 1 })
      }
    })
  },
  { name: 'load-shedding' }
)
