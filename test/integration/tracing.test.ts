// OpenTelemetry end to end: a BFF's traceparent is continued by the broker's server span, the ARM and
// identity calls are its children, ARM sees the same trace, and the audit record names it. Spans go over
// OTLP/HTTP in JSON to a receiver of our own, the way a collector would get them.
import t from 'tap'
import { loadConfig } from '../../src/config.js'
import { startTracing } from '../../src/tracing.js'
import { build, emulatorFor, TEST_ENV } from '../helper.js'
import { CLIENT, otlpReceiver, SERVER, type OtlpSpan } from '../support/otlp-receiver.js'

const attribute = (span: OtlpSpan | undefined, key: string) =>
  span?.attributes.find((a) => a.key === key)?.value.stringValue

t.test('a traceparent is continued through the broker to ARM, and the audit record names the trace', async (t) => {
  const receiver = await otlpReceiver()
  t.teardown(receiver.close)
  const env = { OTEL_EXPORTER_OTLP_ENDPOINT: receiver.url, OTEL_EXPORTER_OTLP_PROTOCOL: 'http/json' }
  const { tracing: tracingConfig } = loadConfig({ ...TEST_ENV, ...env })
  t.match(tracingConfig, { otlp: { url: `${receiver.url}/v1/traces`, protocol: 'http/json' } })
  const tracing = await startTracing(tracingConfig!, 'test')
  const emulator = await emulatorFor(t)
  const { request, logs } = await build(t, { emulator, tracing, env })
  const callerJwt = await emulator.mintCallerToken('portal-bff')

  const traceId = '4bf92f3577b34da6a3ce929d0e0e4736'
  const bffSpanId = '00f067aa0ba902b7'
  const response = await request({
    url: '/tokens/video/traced',
    token: callerJwt,
    headers: { traceparent: `00-${traceId}-${bffSpanId}-01` }
  })
  t.equal(response.statusCode, 200)
  const accessToken = response.json().accessToken as string
  const untraced = await request({ url: '/tokens/video/other', token: callerJwt })
  t.equal(untraced.statusCode, 200)
  t.equal((await request({ url: '/no/such/route' })).statusCode, 404)
  await tracing.shutdown()

  t.ok(receiver.contentTypes.every((type) => type === 'application/json'), 'OTLP/HTTP in JSON')
  const spans = receiver.spans()
  const server = spans.find((s) => s.kind === SERVER && s.traceId === traceId)
  t.ok(server, 'a server span in the incoming trace')
  t.equal(server?.parentSpanId, bffSpanId, "its parent is the BFF's span")
  t.equal(server?.name, 'GET /tokens/video/:videoId')
  t.equal(attribute(server, 'vi_token_broker.caller'), 'portal-bff')
  t.equal(attribute(server, 'vi_token_broker.scope'), 'video')
  t.equal(attribute(server, 'vi_token_broker.cache'), 'miss')

  const children = spans.filter((s) => s.traceId === traceId && s.parentSpanId === server?.spanId)
  const armSpan = children.find((s) => s.kind === CLIENT && /generateRestrictedViewerAccessToken/.test(attribute(s, 'http.url') ?? ''))
  t.ok(armSpan, 'the ARM call is a child span')
  // The identity token was fetched at start, for Accounts_Get, outside any request's trace; it is a span too.
  t.ok(spans.find((s) => s.name === 'ManagedIdentityCredential.getToken'), 'so is the identity-token call')

  const traceparents = emulator.counters().arm.traceparents
  t.ok(traceparents.includes(`00-${traceId}-${armSpan?.spanId}-01`), "ARM got the trace, with the ARM span's id")
  const audits = logs.audits
  t.equal(audits[0]?.traceId, traceId, 'the audit record carries the trace id')
  const ownTrace = audits[1]?.traceId as string
  t.match(ownTrace, /^[0-9a-f]{32}$/, 'a request without traceparent gets a trace of its own')
  t.ok(spans.some((s) => s.kind === SERVER && s.traceId === ownTrace && s.parentSpanId === undefined))

  t.ok(spans.some((s) => s.kind === SERVER && s.name === 'GET unmatched'), 'a request no route matched is named so')

  const exported = receiver.bodies.join('\n')
  t.notOk(exported.includes(accessToken), 'no access token in any span')
  t.notOk(exported.includes(callerJwt), 'no caller JWT in any span')
})
