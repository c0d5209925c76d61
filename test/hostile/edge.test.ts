// The HTTP edge on a real loopback socket: headers beyond what the broker reads, bodies on a bodyless
// API, and clients that trickle bytes to hold a connection. Raw bytes over net.Socket where node:http
// would refuse to send them.
import { connect, type Socket } from 'node:net'
import { performance } from 'node:perf_hooks'
import t from 'tap'
import { build } from '../helper.js'
import { callerToken } from '../support/tokens.js'
import { assertError, socketRequest, Tally, type RawResponse } from './support/hostile.js'

const HEADERS_TIMEOUT_MS = 2_000
const broker = await build(t, { env: { HTTP_HEADERS_TIMEOUT_MS: String(HEADERS_TIMEOUT_MS) } })
const { logs, app } = broker
const baseUrl = await app.listen({ port: 0, host: '127.0.0.1' })
const port = Number(new URL(baseUrl).port)
const tally = new Tally()
const portal = await callerToken('portal-bff')
const admin = await callerToken('admin-bff')
logs.secret(portal)
logs.secret(admin)

async function socket (label: string, bytes: string | Buffer): Promise<RawResponse> {
  const response = await socketRequest(baseUrl, bytes)
  tally.see(label, response.status)
  logs.secret(response.json?.accessToken)
  return response
}

// Five bytes a header: 2,100 of them stay under the 16 KB header limit.
const padding = (count: number) => 'x:1\r\n'.repeat(count)
const issued = () => logs.audits.filter((a) => a.tokenFingerprint !== null).length

/**
 * A connection that sends `head` at once and then one byte of `trickle` a second. Resolves when the
 * server closes it, with what the server sent and when it closed.
 */
function trickle (head: string, trickle: string, deadlineMs: number) {
  return new Promise<{ closedAfterMs: number | undefined; response: string; bytesSent: number }>((resolve) => {
    const started = performance.now()
    const conn: Socket = connect({ host: '127.0.0.1', port })
    let response = ''
    let sent = 0
    let ticker: NodeJS.Timeout | undefined
    const finish = (closed: boolean) => {
      clearInterval(ticker)
      clearTimeout(deadline)
      conn.destroy()
      resolve({ closedAfterMs: closed ? performance.now() - started : undefined, response, bytesSent: sent })
    }
    const deadline = setTimeout(() => finish(false), deadlineMs)
    conn.on('data', (chunk: Buffer) => (response += chunk.toString('latin1')))
    conn.on('error', () => finish(true))
    conn.on('close', () => finish(true))
    conn.on('end', () => finish(true))
    conn.on('connect', () => {
      if (head !== '') conn.write(head)
      ticker = setInterval(() => {
        if (sent < trickle.length && conn.writable) conn.write(trickle[sent++] as string)
      }, 1_000)
    })
  })
}

t.test('a second Authorization header after 2,100 padding headers does not slip through: 431', async (t) => {
  const before = issued()
  const response = await socket(
    '2,100 headers',
    `GET /tokens/video/abc HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer ${portal}\r\n${padding(2_100)}` +
      `Authorization: Bearer ${admin}\r\nConnection: close\r\n\r\n`
  )
  assertError(t, response, 431, 'HEADERS_TOO_LARGE', '2,100 padding headers between two Authorization headers')
  t.equal(issued(), before, 'no token was issued')
})

t.test('more headers than the broker reads (100) get 431; 100 are read in full', async (t) => {
  const head = (count: number) =>
    `GET /tokens/video/abc HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer ${portal}\r\n` +
    `${padding(count - 3)}Connection: close\r\n\r\n`
  assertError(t, await socket('101 headers', head(101)), 431, 'HEADERS_TOO_LARGE', '101 headers')
  assertError(t, await socket('101 headers, health', head(101).replace('/tokens/video/abc', '/healthz')),
    431, 'HEADERS_TOO_LARGE', '101 headers on /healthz')
  const hundred = await socket('100 headers', head(100))
  t.equal(hundred.status, 200, '100 headers: served')
  const duplicate = await socket(
    '100 headers, two Authorization',
    `GET /tokens/video/abc HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer ${portal}\r\n${padding(96)}` +
      `Authorization: Bearer ${admin}\r\nConnection: close\r\n\r\n`
  )
  assertError(t, duplicate, 401, 'AUTH_INVALID', 'the duplicate as the 100th header')
})

t.test('a GET that declares a body is answered at once and its connection closed', async (t) => {
  const started = performance.now()
  const slow = await trickle(
    'GET /tokens/video/abc HTTP/1.1\r\nHost: x\r\nContent-Length: 1000000000\r\n\r\n',
    'x'.repeat(60),
    10_000
  )
  t.ok(slow.closedAfterMs !== undefined, `closed by the server (after ${Math.round(slow.closedAfterMs ?? 0)} ms)`)
  t.ok(slow.bytesSent < 5, `before the client had trickled 5 body bytes (${slow.bytesSent})`)
  t.match(slow.response, /^HTTP\/1\.1 413 /, '413')
  t.match(slow.response, /\r\nconnection: close\r\n/i, 'Connection: close')
  t.match(slow.response, /"code":"BODY_NOT_ALLOWED"/)
  tally.see('slow GET body', 413)
  t.comment(`answered and closed in ${Math.round(performance.now() - started)} ms`)

  const post = await trickle(
    'POST /tokens/video/abc HTTP/1.1\r\nHost: x\r\nContent-Length: 1000000000\r\n\r\n',
    'x'.repeat(60),
    10_000
  )
  t.match(post.response, /^HTTP\/1\.1 404 [^]*\r\nconnection: close\r\n/i, 'a POST (no such route): 404 and close')
  t.ok(post.bytesSent < 5, `closed before the client had trickled 5 body bytes (${post.bytesSent})`)
  tally.see('slow POST body', 404)

  const before = issued()
  for (const [name, headers] of [
    ['Content-Length: 5', 'Content-Length: 5\r\n'],
    ['Transfer-Encoding: chunked', 'Transfer-Encoding: chunked\r\n']
  ] as const) {
    const body = name.startsWith('Content') ? 'hello' : '5\r\nhello\r\n0\r\n\r\n'
    const response = await socket(
      `authenticated GET with ${name}`,
      `GET /tokens/video/abc HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer ${portal}\r\n${headers}\r\n${body}`
    )
    assertError(t, response, 413, 'BODY_NOT_ALLOWED', `authenticated GET with ${name}`)
    t.equal(response.headers.connection, 'close', `${name}: Connection: close`)
  }
  t.equal(issued(), before, 'no token was issued for a GET with a body')
  const empty = await socket(
    'GET with Content-Length: 0',
    `GET /tokens/video/abc HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer ${portal}\r\nContent-Length: 0\r\n` +
      'Connection: close\r\n\r\n'
  )
  t.equal(empty.status, 200, 'Content-Length: 0 declares no body: served')
})

t.test('a client trickling its headers a byte a second is cut off at the header timeout', async (t) => {
  const slow = await trickle('GET /tokens/video/abc HTTP/1.1\r\nHost: x\r\nX-Slow: ', 'a'.repeat(60), 12_000)
  t.ok(slow.closedAfterMs !== undefined, `closed by the server (after ${Math.round(slow.closedAfterMs ?? 0)} ms)`)
  // The timeout is checked every second; the margin is for a noisy machine.
  t.ok((slow.closedAfterMs ?? Infinity) < HEADERS_TIMEOUT_MS + 4_000, 'within the header timeout and a margin')
  t.match(slow.response, /^HTTP\/1\.1 408 /, '408 REQUEST_TIMEOUT')
  tally.see('slow headers', 408)

  const silent = await trickle('', '', 12_000)
  t.ok(silent.closedAfterMs !== undefined, 'a connection that sends nothing is closed too')
  t.ok((silent.closedAfterMs ?? Infinity) < HEADERS_TIMEOUT_MS + 4_000, 'within the header timeout and a margin')
})

t.test('an unauthenticated client does not keep its connection: every refusal closes it', async (t) => {
  for (const [name, head] of [
    ['no Authorization', ''],
    ['a forged token', 'Authorization: Bearer forged.forged.forged\r\n']
  ] as const) {
    const idle = await trickle(`GET /tokens/video/abc HTTP/1.1\r\nHost: x\r\n${head}\r\n`, '', 12_000)
    t.match(idle.response, /^HTTP\/1\.1 401 /, `${name}: 401`)
    t.match(idle.response, /\r\nconnection: close\r\n/i, `${name}: Connection: close`)
    t.ok((idle.closedAfterMs ?? Infinity) < HEADERS_TIMEOUT_MS + 4_000, `${name}: closed at once`)
    tally.see(name, 401)
  }
  const notFound = await trickle('GET /nope HTTP/1.1\r\nHost: x\r\n\r\n', '', 12_000)
  t.match(notFound.response, /^HTTP\/1\.1 404 [^]*\r\nconnection: close\r\n/i, 'an unknown route: 404 and close')
  tally.see('404', 404)
  const badUrl = await trickle('GET /tokens/video/%zz HTTP/1.1\r\nHost: x\r\n\r\n', '', 12_000)
  t.match(badUrl.response, /^HTTP\/1\.1 400 [^]*\r\nconnection: close\r\n/i, 'a URL that cannot be decoded: 400 and close')
  t.ok((badUrl.closedAfterMs ?? Infinity) < HEADERS_TIMEOUT_MS + 4_000, 'closed at once')
  tally.see('bad URL', 400)
  const health = await socket('healthz', 'GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n')
  t.equal(health.status, 200)
  t.not(health.headers.connection, 'close', 'a health check keeps its keep-alive connection')
  const served = await socket(
    'served',
    `GET /tokens/video/abc HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer ${portal}\r\n\r\n`
  )
  t.equal(served.status, 200)
  t.not(served.headers.connection, 'close', 'an authenticated caller keeps its keep-alive connection')
})

t.test('no log line holds any offered token', async (t) => {
  t.equal(logs.leaks().length, 0)
})

tally.closingTest(t)
