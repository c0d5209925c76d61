import * as coreTracing from '@azure/core-tracing'
import { AzureSdkInstrumentation } from '@azure/opentelemetry-instrumentation-azure-sdk'
import { FastifyOtelInstrumentation } from '@fastify/otel'
import { context, trace } from '@opentelemetry/api'
import { OTLPTraceExporter as OtlpJsonExporter } from '@opentelemetry/exporter-trace-otlp-http'
import { OTLPTraceExporter as OtlpProtobufExporter } from '@opentelemetry/exporter-trace-otlp-proto'
import { resourceFromAttributes } from '@opentelemetry/resources'
import {
  AlwaysOffSampler,
  AlwaysOnSampler,
  BatchSpanProcessor,
  NodeTracerProvider,
  ParentBasedSampler,
  TraceIdRatioBasedSampler,
  type Sampler,
  type SpanExporter
} from '@opentelemetry/sdk-trace-node'
import { ATTR_SERVICE_NAME, ATTR_SERVICE_VERSION } from '@opentelemetry/semantic-conventions'
import type { FastifyRequest } from 'fastify'
import type { TracingConfig } from './config.js'
import type { Tracing } from './tracing.js'

/** The OpenTelemetry SDK, configured from TracingConfig; loaded by startTracing only. */
export async function createTracing (config: TracingConfig, serviceVersion: string): Promise<Tracing> {
  const exporters: SpanExporter[] = []
  if (config.otlp) {
    const { url, protocol } = config.otlp
    exporters.push(protocol === 'http/json' ? new OtlpJsonExporter({ url }) : new OtlpProtobufExporter({ url }))
  }
  if (config.azureMonitor) {
    const { AzureMonitorTraceExporter } = await import('@azure/monitor-opentelemetry-exporter')
    exporters.push(new AzureMonitorTraceExporter({ connectionString: config.azureMonitor.connectionString }))
  }
  const provider = new NodeTracerProvider({
    resource: resourceFromAttributes({
      [ATTR_SERVICE_NAME]: config.serviceName,
      [ATTR_SERVICE_VERSION]: serviceVersion
    }),
    sampler: sampler(config.sampler),
    spanProcessors: exporters.map((exporter) => new BatchSpanProcessor(exporter))
  })
  // The global tracer provider, AsyncLocalStorage context and W3C trace-context propagator.
  provider.register()

  // The Azure SDK's spans (the ARM call, the identity token) go to OpenTelemetry. The instrumentation
  // is applied to @azure/core-tracing directly: its require hook cannot see an ES module or the bundle.
  const azure = new AzureSdkInstrumentation({ enabled: false })
  for (const definition of azure.getModuleDefinitions()) definition.patch?.(coreTracing)

  const fastify = new FastifyOtelInstrumentation({
    // One server span per request: no span per hook or for the handler.
    instrumentHooks: false,
    instrumentHandler: false,
    requestHook: (span, request) => span.updateName(`${request.method} ${request.routeOptions.url ?? 'unmatched'}`)
  })
  const spanOf = (request: FastifyRequest) => request.opentelemetry().span

  return {
    async register (app) {
      await app.register(fastify.plugin())
    },
    annotate (request, attributes) {
      spanOf(request)?.setAttributes(attributes)
    },
    traceId: (request) => spanOf(request)?.spanContext().traceId,
    azureContext: () => context.active(),
    async shutdown () {
      try {
        await provider.shutdown()
      } finally {
        trace.disable()
        context.disable()
      }
    }
  }
}

export function sampler ({ name, ratio }: TracingConfig['sampler']): Sampler {
  const root = name.endsWith('always_off')
    ? new AlwaysOffSampler()
    : name.endsWith('traceidratio')
      ? new TraceIdRatioBasedSampler(ratio)
      : new AlwaysOnSampler()
  return name.startsWith('parentbased_') ? new ParentBasedSampler({ root }) : root
}
