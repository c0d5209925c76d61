// Requests Node's HTTP layer rejects after the broker has begun on them, and URLs that cannot be
// decoded: no token is minted for them, and every audit record says what the client was actually sent.
import { randomUUID } from 'node:crypto'
import { connect } from 'node:net'
import t from 'tap'
import { build } from '../helper.js'
import { fakeArm } from '../support/fake-arm.js'
import { aviToken, callerToken } from '../support/tokens.js'
import { assertError, socketRequest, Tally } from './support/hostile.js'

const armDelay = { ms: 0 }
const arm = fakeArm(async () => {
  await new Promise((resolve) => setTimeout(resolve, armDelay.ms))
  return {
    status: 200,
    body: { accessToken: await aviToken(Math.floor(Date.now() / 1000) + 3600, { jti: randomUUID() }) }
  }
})
const { app, logs } = await build(t, { armHttpClient: arm.client })
const baseUrl = await app.listen({ port: 0, host: '127.0.0.1' })
const tally = new Tally()
const portal = await callerToken('portal-bff')
logs.secret(portal)

/** Everything the server sends on one connection until it closes it; `later` is written after 100 ms. */
function exchange (bytes: string, later?: string): Promise<string> {
  return new Promise((resolve) => {
    const url = new URL(baseUrl)
    const conn = connect({ host: url.hostname, port: Number(url.port) })
    let received = ''
    const timer = setTimeout(() => conn.destroy(), 5_000)
    conn.on('data', (chunk: Buffer) => (received += chunk.toString('latin1')))
    conn.on('close', () => {
      clearTimeout(timer)
      resolve(received)
    })
    conn.on('error', () => {})
    conn.on('connect', () => {
      conn.write(bytes)
      if (later !== undefined) setTimeout(() => conn.writable && conn.write(later), 100)
    })
  })
}

const get = (id: string, extra: string) =>
  `GET /tokens/video/${id} HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer ${portal}\r\n${extra}`

t.test('a request the HTTP layer rejects gets no token, and its audit record says what was sent', async (t) => {
  const cases: Array<[string, (id: string) => string]> = [
    ['Transfer-Encoding: xchunked', (id) => get(id, 'Transfer-Encoding: xchunked\r\n\r\n')],
    ['a bad chunk size', (id) => get(id, 'Transfer-Encoding: chunked\r\n\r\nzz\r\nhello\r\n0\r\n\r\n')],
    ['garbage pipelined after a valid GET', (id) => get(id, '\r\n') + '\u0001\u0002GARBAGE\r\n\r\n'],
    ['a second request line that is not HTTP', (id) => get(id, '\r\n') + 'GET / HTTP/9.9\r\n\r\n']
  ]
  for (const [name, bytes] of cases) {
    const id = `http-layer-${cases.findIndex(([n]) => n === name)}`
    const minted = arm.calls.length
    const received = await exchange(bytes(id))
    const status = Number(/^HTTP\/1\.1 (\d{3})/.exec(received)?.[1])
    tally.see(name, status)
    t.ok(status >= 400 && status < 500, `${name}: the client was answered ${status}`)
    t.notMatch(received, /accessToken/, `${name}: no token reached the client`)
    t.equal(arm.calls.length, minted, `${name}: no token was minted`)
    const records = logs.audits.filter((a) => a.resourceId === id)
    t.equal(records.length, 1, `${name}: one audit record`)
    const sentCode = /"code":"([A-Z_]+)"/.exec(received)?.[1]
    t.match(
      records[0],
      { status, code: sentCode, decision: 'error', tokenFingerprint: null, cache: null },
      `${name}: the record says ${status} ${String(sentCode)}, as sent`
    )
  }
})

t.test('garbage that arrives while the token is being minted: the audit states the 400, not a token', async (t) => {
  armDelay.ms = 400
  t.teardown(() => {
    armDelay.ms = 0
  })
  const received = await exchange(get('http-layer-late', '\r\n'), 'GARBAGE\r\n\r\n')
  tally.see('late garbage', 400)
  t.match(received, /^HTTP\/1\.1 400 /, 'the client was answered 400')
  t.notMatch(received, /accessToken/, 'no token reached the client')
  // The mint was under way for this and any other caller of the same token, so it completes and is cached.
  await new Promise((resolve) => setTimeout(resolve, 600))
  const records = logs.audits.filter((a) => a.resourceId === 'http-layer-late')
  t.equal(records.length, 1, 'one audit record')
  t.match(records[0], { status: 400, code: 'INVALID_REQUEST', decision: 'error', tokenFingerprint: null, cache: null })
})

t.test('a token route whose URL cannot be decoded is audited', async (t) => {
  for (const path of ['/tokens/video/%zz', '/tokens/%zz/abc', '/cache/video/%E0%A4%A']) {
    const before = logs.audits.length
    const response = await socketRequest(
      baseUrl,
      `GET ${path} HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer ${portal}\r\nConnection: close\r\n\r\n`
    )
    tally.see(path, response.status)
    assertError(t, response, 400, 'INVALID_REQUEST', path)
    const record = logs.audits.slice(before).at(0)
    t.match(record, { status: 400, code: 'INVALID_REQUEST', decision: 'error', caller: null }, `${path}: audited`)
    t.equal(record?.reqId, response.headers['x-request-id'], `${path}: the record is this request's`)
  }
  const before = logs.audits.length
  t.equal((await socketRequest(baseUrl, 'GET /%zz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n')).status, 400)
  tally.see('/%zz', 400)
  t.equal(logs.audits.length, before, 'a bad URL elsewhere is not a token request')
})

t.test('no log line holds any offered token', async (t) => {
  t.equal(logs.leaks().length, 0)
})

tally.closingTest(t)
