// The tracing SDK's configuration: each sampler, each OTLP encoding, and an exporter that cannot export.
import { trace, ROOT_CONTEXT, SpanKind, TraceFlags } from '@opentelemetry/api'
import { SamplingDecision } from '@opentelemetry/sdk-trace-node'
import t from 'tap'
import { TRACES_SAMPLERS } from '../src/config/env-schema.js'
import { startTracing } from '../src/tracing.js'
import { sampler } from '../src/tracing-sdk.js'
import { otlpReceiver } from './support/otlp-receiver.js'

const TRACE_ID = '4bf92f3577b34da6a3ce929d0e0e4736'
const sampledParent = trace.setSpanContext(ROOT_CONTEXT, {
  traceId: TRACE_ID,
  spanId: '00f067aa0ba902b7',
  traceFlags: TraceFlags.SAMPLED,
  isRemote: true
})

t.test('OTEL_TRACES_SAMPLER: each value samples as the specification says', async (t) => {
  const decide = (name: (typeof TRACES_SAMPLERS)[number], ratio: number, parent = ROOT_CONTEXT) =>
    sampler({ name, ratio }).shouldSample(parent, TRACE_ID, 'GET /x', SpanKind.SERVER, {}, []).decision
  const RECORD = SamplingDecision.RECORD_AND_SAMPLED
  const DROP = SamplingDecision.NOT_RECORD
  t.equal(decide('always_on', 0), RECORD)
  t.equal(decide('always_off', 1), DROP)
  t.equal(decide('traceidratio', 1), RECORD)
  t.equal(decide('traceidratio', 0), DROP)
  t.equal(decide('parentbased_always_on', 1), RECORD, 'a root span is sampled')
  t.equal(decide('parentbased_always_off', 1), DROP, 'a root span is not')
  t.equal(decide('parentbased_always_off', 1, sampledParent), RECORD, "but a sampled caller's span is followed")
  t.equal(decide('parentbased_traceidratio', 0, sampledParent), RECORD)
  t.equal(decide('parentbased_traceidratio', 0), DROP)
})

t.test('http/protobuf (the default encoding) reaches the collector as protobuf', async (t) => {
  const receiver = await otlpReceiver()
  t.teardown(receiver.close)
  const tracing = await startTracing({
    serviceName: 'vi-token-broker',
    sampler: { name: 'always_on', ratio: 1 },
    otlp: { url: `${receiver.url}/v1/traces`, protocol: 'http/protobuf' },
    azureMonitor: undefined
  }, 'test')
  trace.getTracer('test').startSpan('one').end()
  await tracing.shutdown()
  t.same(receiver.contentTypes, ['application/x-protobuf'])
  t.ok(receiver.bodies[0]?.includes('vi-token-broker'), 'with the service name')
})

t.test('Azure Monitor: an exporter that cannot reach its endpoint fails the last export only', async (t) => {
  const tracing = await startTracing({
    serviceName: 'vi-token-broker',
    sampler: { name: 'always_on', ratio: 1 },
    otlp: undefined,
    // Nothing listens on port 9 here: the export fails fast.
    azureMonitor: {
      connectionString: 'InstrumentationKey=00000000-0000-0000-0000-000000000001;IngestionEndpoint=https://127.0.0.1:9/'
    }
  }, 'test')
  trace.getTracer('test').startSpan('one').end()
  await t.rejects(tracing.shutdown(), 'shutdown reports the failed export, for the server to log')
  t.equal(trace.getTracer('after').startSpan('x').isRecording(), false, 'and tracing is off afterwards')
})
