// A stand-in for an OpenTelemetry collector, for the tracing part: an OTLP/HTTP receiver on loopback that
// reads each export, counts it and answers 200, so the broker's exporter does all the work it does in production.
import { once } from 'node:events'
import { createServer } from 'node:http'

export interface Collector {
  url: string
  exports(): { requests: number; bytes: number }
  close(): Promise<void>
}

export async function startCollector (): Promise<Collector> {
  let requests = 0
  let bytes = 0
  const server = createServer((request, response) => {
    request.on('data', (chunk: Buffer) => (bytes += chunk.length))
    request.on('end', () => {
      requests++
      response.writeHead(200, { 'content-type': 'application/x-protobuf' }).end()
    })
  })
  server.listen(0, '127.0.0.1')
  await once(server, 'listening')
  const { port } = server.address() as { port: number }
  return {
    url: `http://127.0.0.1:${port}`,
    exports: () => ({ requests, bytes }),
    close: () =>
      new Promise((resolve) => {
        server.close(() => resolve())
        server.closeAllConnections()
      })
  }
}
