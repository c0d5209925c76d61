import type { FastifyInstance } from 'fastify'
import { brokerError } from '../errors.js'
import { errorResponse, HealthResponse } from '../schemas.js'

/** Liveness depends on nothing outside the process; readiness turns 503 once shutdown starts. */
export default async function healthRoutes (app: FastifyInstance, options: { isReady: () => boolean }) {
  app.get(
    '/healthz',
    {
      schema: {
        tags: ['health'],
        summary: 'Liveness',
        description:
          'Answers 200 while the process runs. Depends on nothing outside the process: use it for the liveness probe.',
        response: { 200: HealthResponse }
      }
    },
    async () => ({ status: 'ok' })
  )
  app.get(
    '/readyz',
    {
      schema: {
        tags: ['health'],
        summary: 'Readiness',
        description:
          'Answers 200 once the configuration and policy are loaded, and 503 from the moment shutdown starts.',
        response: { 200: HealthResponse, 503: errorResponse(['NOT_READY'], 'Shutting down') }
      }
    },
    async () => {
      if (!options.isReady()) throw brokerError('NOT_READY', { retryAfterSeconds: 5 })
      return { status: 'ready' }
    }
  )
}
