import { performance } from 'node:perf_hooks'
import type { FastifyInstance } from 'fastify'
import fp from 'fastify-plugin'
import { brokerError } from '../errors.js'
import type { Metrics } from '../metrics.js'
import { createShedder } from '../shedder.js'

export interface LoadSheddingOptions {
  /** The event-loop delay callers may wait; 0 turns shedding off. */
  targetDelayMs: number
  intervalMs: number
  metrics: Pick<Metrics, 'shed' | 'queueDelay' | 'shedProbability'>
}

/** How often the probe timer measures the loop's lag. */
const PROBE_MS = 10

/**
 * Sheds a share of this scope's requests with 503 OVERLOADED, before any work but authentication, while
 * requests wait too long for the event loop (see src/shedder.ts). The wait is measured by a probe timer:
 * how late it fires is how long a request arriving at that moment waited for the loop. (Not
 * monitorEventLoopDelay: it records the interval between its firings and drops the first one after a
 * reset, so a stall right after a reset goes unseen.)
 */
export default fp(
  async function loadShedding (app: FastifyInstance, options: LoadSheddingOptions) {
    const { targetDelayMs, intervalMs, metrics } = options
    if (targetDelayMs === 0) return
    const shedder = createShedder({
      targetDelayMs,
      intervalMs,
      onInterval: ({ delayMs, probability }) => {
        metrics.queueDelay.set(delayMs / 1000)
        metrics.shedProbability.set(probability)
      }
    })
    let due = performance.now() + PROBE_MS
    let timer: NodeJS.Timeout
    const probe = () => {
      const now = performance.now()
      shedder.observe(now, now - due)
      due = now + PROBE_MS
      timer = setTimeout(probe, PROBE_MS).unref()
    }
    timer = setTimeout(probe, PROBE_MS).unref()

    app.addHook('onClose', async () => clearTimeout(timer))
    app.addHook('onRequest', async () => {
      if (!shedder.shed()) return
      metrics.shed.inc()
      throw brokerError('OVERLOADED', { retryAfterSeconds: 1 })
    })
  },
  { name: 'load-shedding' }
)
