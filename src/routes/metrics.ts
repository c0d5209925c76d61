import type { FastifyInstance } from 'fastify'
import type { Registry } from 'prom-client'

/** Prometheus scrape endpoint. No authentication: expose it to the scraper only (NetworkPolicy, METRICS_PORT). */
export default async function metricsRoutes (app: FastifyInstance, options: { registry: () => Promise<Registry> }) {
  app.get('/metrics', { schema: { hide: true } }, async (_request, reply) => {
    const registry = await options.registry()
    reply.header('content-type', registry.contentType)
    return registry.metrics()
  })
}
