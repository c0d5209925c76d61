// A stand-in for an OpenTelemetry collector: an OTLP/HTTP receiver on loopback that keeps the JSON it is sent.
import { once } from 'node:events'
import { createServer, type IncomingMessage } from 'node:http'

export interface OtlpSpan {
  traceId: string
  spanId: string
  parentSpanId?: string
  name: string
  kind: number
  attributes: Array<{ key: string; value: { stringValue?: string; intValue?: number } }>
}
/** OTLP's SpanKind numbers. */
export const SERVER = 2
export const CLIENT = 3

/** An OTLP/HTTP receiver on loopback that keeps every JSON export it is sent. */
export async function otlpReceiver () {
  const bodies: string[] = []
  const contentTypes: string[] = []
  const server = createServer((request: IncomingMessage, response) => {
    let body = ''
    request.on('data', (chunk: Buffer) => (body += chunk.toString()))
    request.on('end', () => {
      if (request.url === '/v1/traces' && request.method === 'POST') {
        bodies.push(body)
        contentTypes.push(String(request.headers['content-type']))
      }
      response.writeHead(200, { 'content-type': 'application/json' }).end('{}')
    })
  })
  server.listen(0, '127.0.0.1')
  await once(server, 'listening')
  const { port } = server.address() as { port: number }
  const spans = (): OtlpSpan[] =>
    bodies.flatMap((body) =>
      (JSON.parse(body) as { resourceSpans: Array<{ scopeSpans: Array<{ spans: OtlpSpan[] }> }> }).resourceSpans
        .flatMap((r) => r.scopeSpans)
        .flatMap((s) => s.spans)
    )
  return { url: `http://127.0.0.1:${port}`, bodies, contentTypes, spans, close: () => server.close() }
}
