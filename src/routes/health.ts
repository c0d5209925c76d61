import type { FastifyInstance } from 'fastify'
import { brokerError } from '../errors.js'
import { ErrorResponse, HealthResponse } from '../schemas.js'

/** Liveness depends on nothing outside the process; readiness turns 503 once shutdown starts. */
export default async function healthRoutes(app: FastifyInstance, options: { isReady: () => boolean }) {
  app.get(
    '/healthz',
    { schema: { tags: ['health'], summary: 'Liveness', response: { 200: HealthResponse } } },
    async () => ({ status: 'ok' })
  )
  app.get(
    '/readyz',
    { schema: { tags: ['health'], summary: 'Readiness', response: { 200: HealthResponse, 503: ErrorResponse } } },
    async () => {
      if (!options.isReady()) throw brokerError('NOT_READY', { retryAfterSeconds: 5 })
      return { status: 'ready' }
    }
  )
}
