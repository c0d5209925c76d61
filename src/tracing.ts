import type { TracingContext } from '@azure/core-tracing'
import type { FastifyInstance, FastifyRequest } from 'fastify'
import type { TracingConfig } from './config.js'

/**
 * OpenTelemetry tracing, when configured (see TracingConfig). The app asks only this; when tracing is
 * off there is no Tracing at all, so no hook, no span and no SDK module is ever loaded.
 */
export interface Tracing {
  /** A server span per request, continuing an incoming traceparent; registered before any route. */
  register(app: FastifyInstance): Promise<void>
  /** Describes the request's span (caller, scope, cache outcome: never a token). */
  annotate(request: FastifyRequest, attributes: Record<string, string | number>): void
  /** The request's trace id (the incoming traceparent's, or a new one), for its audit record. */
  traceId(request: FastifyRequest): string | undefined
  /** The active span as an Azure SDK tracing context, for tracingOptions on a pipeline request. */
  azureContext(): TracingContext
  /** Exports the spans still buffered, then stops; rejects if the last export failed. */
  shutdown(): Promise<void>
}

/** Starts the SDK: the OpenTelemetry packages are loaded here, only when tracing is configured. */
export async function startTracing (config: TracingConfig, serviceVersion: string): Promise<Tracing> {
  const { createTracing } = await import('./tracing-sdk.js')
  return createTracing(config, serviceVersion)
}
