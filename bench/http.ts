// The bench's HTTP clients: one request over a keep-alive socket, and closed-loop load with autocannon.
import { Agent, request as httpRequest } from 'node:http'
import autocannon from 'autocannon'

const keepAlive = new Agent({ keepAlive: true, maxSockets: 1 })

export function getJson (
  url: string,
  token?: string,
  agent: Agent = keepAlive
): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const request = httpRequest(
      url,
      { agent, headers: token ? { authorization: `Bearer ${token}` } : {} },
      (response) => {
        let body = ''
        response.setEncoding('utf8')
        response.on('data', (chunk: string) => (body += chunk))
        response.on('end', () => resolve({ status: response.statusCode ?? 0, body }))
      }
    )
    request.on('error', reject)
    request.end()
  })
}

export interface LoadResult {
  /** Every answer per second, whatever its status. */
  rps: number
  /** 2xx answers per second. */
  goodput: number
  p50: number
  p99: number
  requests: number
  non2xx: number
  errors: number
  /** Answers by status code. */
  statuses: Record<string, number>
  bytesPerResponse: number
}

/** `connections` keep-alive connections, each sending its next request when the last is answered. */
export async function load (url: string, token: string, durationS: number, connections: number): Promise<LoadResult> {
  const result = await autocannon({
    url,
    connections,
    pipelining: 1,
    duration: durationS,
    headers: { authorization: `Bearer ${token}` }
  })
  return {
    rps: result.requests.total / result.duration,
    goodput: result['2xx'] / result.duration,
    p50: result.latency.p50,
    p99: result.latency.p99,
    requests: result.requests.total,
    non2xx: result.non2xx,
    errors: result.errors,
    statuses: Object.fromEntries(Object.entries(result.statusCodeStats ?? {}).map(([code, x]) => [code, x.count ?? 0])),
    bytesPerResponse: result.throughput.total / Math.max(1, result.requests.total)
  }
}
