// Shared tools for the hostile-input suites: a raw HTTP client with a hard client-side deadline,
// a per-file response tally (so each file can assert that nothing answered 500), and assertions
// on the error shape and on log hygiene.
import { request as httpRequest, type IncomingHttpHeaders } from 'node:http'
import { connect } from 'node:net'
import type { Test } from 'tap'
import { errors } from '../../../src/errors.js'
import type { LogCapture } from '../../support/log-capture.js'

export const CLIENT_TIMEOUT_MS = 10_000
export const CATALOGUE = new Set(Object.keys(errors))

export interface RawResponse {
  status: number
  headers: IncomingHttpHeaders
  body: string
  /** The parsed body, or undefined when it is not JSON. */
  json: any
}

export interface RawRequest {
  method?: string
  /** Sent byte for byte as the request target: no normalisation, no encoding. */
  path: string
  /** Flat [name, value, name, value, …] list, so a header can be repeated. */
  headers?: string[]
  body?: string | Buffer
  timeoutMs?: number
}

/** Counts responses per file; the last test of each file asserts no 500 was seen. */
export class Tally {
  total = 0
  status500: string[] = []

  see (label: string, status: number): void {
    this.total++
    if (status === 500) this.status500.push(label)
  }

  /** Adds the closing test: no response was a 500. */
  closingTest (t: Test): void {
    t.test('no response in this file was a 500', async (t) => {
      t.ok(this.total > 0, `${this.total} responses seen`)
      t.same(this.status500, [], '0 responses with status 500')
    })
  }
}

/**
 * One request over a fresh connection with node:http (no agent, so no pooling), failing with
 * "client timeout" when no complete response arrives within the deadline. A response that arrives
 * before the server resets the connection (as it does after a 431) still counts.
 */
export function rawRequest (baseUrl: string, options: RawRequest): Promise<RawResponse> {
  const url = new URL(baseUrl)
  const { method = 'GET', path, headers = [], body, timeoutMs = CLIENT_TIMEOUT_MS } = options
  return new Promise((resolve, reject) => {
    let settled = false
    const finish = (error: Error | null, response?: RawResponse) => {
      if (settled) return
      settled = true
      clearTimeout(timer)
      if (error) reject(error)
      else resolve(response as RawResponse)
    }
    const flat = [...headers]
    // With an array of headers node:http adds no Host, and Node's server answers 400 without one.
    if (!flat.some((h, i) => i % 2 === 0 && h.toLowerCase() === 'host')) flat.unshift('host', url.host)
    if (body !== undefined && !flat.some((h, i) => i % 2 === 0 && /^(content-length|transfer-encoding)$/i.test(h))) {
      flat.push('content-length', String(Buffer.byteLength(body)))
    }
    const req = httpRequest({
      host: url.hostname,
      port: Number(url.port),
      method,
      path,
      agent: false,
      headers: flat,
      // Responses are small; the default would do, but say it.
      maxHeaderSize: 64 * 1024
    })
    const timer = setTimeout(() => {
      finish(new Error(`client timeout after ${timeoutMs} ms: ${method} ${path.slice(0, 80)}`))
      req.destroy()
    }, timeoutMs)
    req.on('response', (res) => {
      const chunks: Buffer[] = []
      res.on('data', (chunk: Buffer) => chunks.push(chunk))
      res.on('error', (error) => finish(error))
      res.on('end', () => {
        const text = Buffer.concat(chunks).toString('utf8')
        finish(null, { status: res.statusCode ?? 0, headers: res.headers, body: text, json: parseJson(text) })
      })
    })
    // EPIPE/ECONNRESET while we are still writing a huge request is expected once the server has
    // answered; only an error with no response at all fails the request.
    req.on('error', (error) => finish(error))
    if (body !== undefined) req.write(body)
    req.end()
  })
}

/**
 * A request written to a bare TCP socket, for inputs node:http refuses to send or for which the
 * server answers and resets before the client has finished writing. The response is read until the
 * server closes the connection.
 */
export function socketRequest (
  baseUrl: string,
  bytes: string | Buffer,
  timeoutMs = CLIENT_TIMEOUT_MS
): Promise<RawResponse> {
  const url = new URL(baseUrl)
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = []
    let settled = false
    const socket = connect({ host: url.hostname, port: Number(url.port) })
    const done = () => {
      if (settled) return
      settled = true
      clearTimeout(timer)
      const parsed = parseHttpResponse(Buffer.concat(chunks))
      if (parsed) resolve(parsed)
      else reject(new Error(`no HTTP response before the connection closed (${chunks.length} chunks)`))
    }
    const timer = setTimeout(() => {
      if (settled) return
      settled = true
      socket.destroy()
      reject(new Error(`client timeout after ${timeoutMs} ms`))
    }, timeoutMs)
    socket.on('data', (chunk: Buffer) => {
      chunks.push(chunk)
      // Stop as soon as one complete response is in.
      const parsed = parseHttpResponse(Buffer.concat(chunks), true)
      if (parsed) {
        socket.destroy()
        done()
      }
    })
    socket.on('error', () => done())
    socket.on('close', () => done())
    socket.on('connect', () => socket.write(bytes))
  })
}

/** Parses one HTTP/1.1 response; with `complete`, returns undefined until the whole body is in. */
function parseHttpResponse (buffer: Buffer, complete = false): RawResponse | undefined {
  const end = buffer.indexOf('\r\n\r\n')
  if (end < 0) return undefined
  const head = buffer.subarray(0, end).toString('latin1').split('\r\n')
  const match = /^HTTP\/1\.[01] (\d{3})/.exec(head[0] ?? '')
  if (!match) return undefined
  const headers: IncomingHttpHeaders = {}
  for (const line of head.slice(1)) {
    const colon = line.indexOf(':')
    if (colon > 0) headers[line.slice(0, colon).trim().toLowerCase()] = line.slice(colon + 1).trim()
  }
  let bodyBytes = buffer.subarray(end + 4)
  const length = headers['content-length'] === undefined ? undefined : Number(headers['content-length'])
  if (length !== undefined) {
    if (complete && bodyBytes.length < length) return undefined
    bodyBytes = bodyBytes.subarray(0, length)
  } else if (/chunked/i.test(String(headers['transfer-encoding'] ?? ''))) {
    const decoded = dechunk(bodyBytes)
    if (decoded === undefined) {
      if (complete) return undefined
    } else bodyBytes = decoded
  } else if (complete) return undefined
  const body = bodyBytes.toString('utf8')
  return { status: Number(match[1]), headers, body, json: parseJson(body) }
}

function dechunk (buffer: Buffer): Buffer | undefined {
  const parts: Buffer[] = []
  let offset = 0
  for (;;) {
    const lineEnd = buffer.indexOf('\r\n', offset)
    if (lineEnd < 0) return undefined
    const size = parseInt(buffer.subarray(offset, lineEnd).toString('latin1'), 16)
    if (Number.isNaN(size)) return undefined
    if (size === 0) return Buffer.concat(parts)
    const start = lineEnd + 2
    if (buffer.length < start + size + 2) return undefined
    parts.push(buffer.subarray(start, start + size))
    offset = start + size + 2
  }
}

function parseJson (text: string): any {
  try {
    return JSON.parse(text)
  } catch {
    return undefined
  }
}

/** Asserts an exact status and catalogue code in the ErrorResponse shape (and WWW-Authenticate on 401). */
export function assertError (
  t: Test,
  response: { status: number; headers: IncomingHttpHeaders; json: any; body: string },
  status: number,
  code: string,
  name: string
): void {
  t.equal(response.status, status, `${name}: status ${status}`)
  const actual = response.json?.error?.code
  t.equal(
    actual,
    code,
    `${name}: code ${code} (got ${actual === undefined ? `body ${response.body.slice(0, 160)}` : actual})`
  )
  if (actual !== undefined) t.ok(CATALOGUE.has(actual), `${name}: ${actual} is a catalogue code`)
  if (status === 401) {
    t.equal(response.headers['www-authenticate'], 'Bearer error="invalid_token"', `${name}: WWW-Authenticate`)
  }
  t.notMatch(response.body, /\bat .+:\d+:\d+/, `${name}: no stack trace in the body`)
}

// eslint-disable-next-line no-control-regex -- matching raw control characters is what this check is for
const RAW_CONTROL = /[\n\r\u001b\u0000]/

/** Every captured log line is one line of valid JSON with no raw control characters. */
export function assertLogHygiene (t: Test, logs: LogCapture, name: string): void {
  const bad: string[] = []
  for (const [index, line] of logs.raw.entries()) {
    let parsed = false
    try {
      JSON.parse(line)
      parsed = true
    } catch {
      // reported below
    }
    if (!parsed) bad.push(`line ${index} is not JSON: ${JSON.stringify(line.slice(0, 120))}`)
    if (RAW_CONTROL.test(line)) {
      bad.push(`line ${index} has a raw control character: ${JSON.stringify(line.slice(0, 120))}`)
    }
  }
  t.same(bad, [], `${name}: ${logs.raw.length} log lines, each single-line JSON without raw control characters`)
}

/** Fails when any log line contains the value (whatever its length, unlike LogCapture.secret). */
export function assertNotLogged (t: Test, logs: LogCapture, value: string, name: string): void {
  const hits = logs.raw.filter((line) => line.includes(value)).length
  t.equal(hits, 0, `${name}: the offered value is in no log line`)
}
