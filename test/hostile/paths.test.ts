// Hostile paths, query strings, methods and bodies against the broker on a real loopback socket
// (in Entra mode against the emulator's tenant, real ARM calls through the emulator). Raw request targets are
// sent byte for byte with node:http, or over a bare socket where node:http would refuse them.
import t from 'tap'
import { build, emulatorFor } from '../helper.js'
import {
  assertError,
  assertNotLogged,
  rawRequest,
  socketRequest,
  Tally,
  type RawRequest,
  type RawResponse
} from './support/hostile.js'

const emulator = await emulatorFor(t)
const broker = await build(t, { emulator })
const { logs } = broker
const baseUrl = await broker.app.listen({ port: 0, host: '127.0.0.1' })
const tally = new Tally()

const portal = await emulator.mintCallerToken('portal-bff')
const admin = await emulator.mintCallerToken('admin-bff')
logs.secret(portal)
logs.secret(admin)

async function send (label: string, options: RawRequest & { token?: string }): Promise<RawResponse> {
  const { token, headers = [], ...rest } = options
  const response = await rawRequest(baseUrl, {
    ...rest,
    headers: token ? ['authorization', `Bearer ${token}`, ...headers] : headers
  })
  tally.see(label, response.status)
  logs.secret(response.json?.accessToken)
  return response
}

/** GET with portal-bff's token, another token, or (null) no Authorization header at all. */
const get = (path: string, token: string | null = portal) =>
  send(`GET ${path.slice(0, 100)}`, { path, ...(token === null ? {} : { token }) })

async function socket (label: string, bytes: string | Buffer): Promise<RawResponse> {
  const response = await socketRequest(baseUrl, bytes)
  tally.see(label, response.status)
  logs.secret(response.json?.accessToken)
  return response
}

t.test('sanity: a valid id gets 200 with that videoId', async (t) => {
  const response = await get('/tokens/video/abc123')
  t.equal(response.status, 200)
  t.equal(response.json?.videoId, 'abc123')
})

t.test('ids with traversal, encoded slashes, NUL, unicode or 65+ characters: 400 INVALID_ID', async (t) => {
  const cases: Array<[string, number, string]> = [
    ['/tokens/video/..%2Fx', 400, 'INVALID_ID'],
    ['/tokens/video/..%2F..%2Fetc%2Fpasswd', 400, 'INVALID_ID'],
    ['/tokens/video/..%2f', 400, 'INVALID_ID'],
    ['/tokens/video/%2E%2E', 400, 'INVALID_ID'],
    ['/tokens/video/%2F', 400, 'INVALID_ID'],
    ['/tokens/video/abc%2Fdef', 400, 'INVALID_ID'],
    ['/tokens/video/abc%5Cdef', 400, 'INVALID_ID'],
    ['/tokens/video/%00', 400, 'INVALID_ID'],
    ['/tokens/video/abc123%00', 400, 'INVALID_ID'],
    ['/tokens/video/abc123%0A', 400, 'INVALID_ID'],
    ['/tokens/video/abc123%0D%0AX-Injected:%201', 400, 'INVALID_ID'],
    ['/tokens/video/%C3%A9t%C3%A9', 400, 'INVALID_ID'],
    ['/tokens/video/abc%E2%80%AE', 400, 'INVALID_ID'],
    ['/tokens/video/%F0%9F%98%80', 400, 'INVALID_ID'],
    ['/tokens/video/abc%20123', 400, 'INVALID_ID'],
    ['/tokens/video/abc.123', 400, 'INVALID_ID'],
    ['/tokens/video/' + 'a'.repeat(65), 400, 'INVALID_ID'],
    ['/tokens/video/' + 'a'.repeat(100), 400, 'INVALID_ID'],
    ['/tokens/video/' + 'a'.repeat(101), 400, 'INVALID_ID'],
    ['/tokens/video/' + 'a'.repeat(1000), 400, 'INVALID_ID'],
    ['/tokens/video/' + '%C3%A9'.repeat(20), 400, 'INVALID_ID'],
    ['/tokens/project/' + 'b'.repeat(65), 400, 'INVALID_ID'],
    ['/tokens/project/..%2Fx', 400, 'INVALID_ID']
  ]
  for (const [path, status, code] of cases) assertError(t, await get(path), status, code, path.slice(0, 90))
  const boundary = await get('/tokens/video/' + 'a'.repeat(64))
  t.equal(boundary.status, 200, 'a 64-character id is still valid')
})

t.test('raw dot segments are not resolved into a different id (never 200 for another id, never 500)', async (t) => {
  // fetch/WHATWG URL would turn these into /tokens/video/abc or /tokens/x; node:http sends them as they are.
  const cases: Array<[string, number, string]> = [
    ['/tokens/video/../video/abc', 400, 'INVALID_ID'],
    ['/tokens/video/../account', 400, 'INVALID_ID'],
    ['/tokens/video/abc/../def', 400, 'INVALID_ID'],
    ['/tokens/video/..', 400, 'INVALID_ID'],
    ['/tokens/video/.', 400, 'INVALID_ID'],
    ['/tokens/video/./abc123', 400, 'INVALID_ID'],
    ['/tokens/../tokens/video/abc123', 400, 'UNKNOWN_SCOPE'],
    ['/tokens/./video/abc123', 400, 'UNKNOWN_SCOPE']
  ]
  for (const [path, status, code] of cases) {
    const response = await get(path)
    t.not(response.status, 200, `${path}: not served as another id`)
    assertError(t, response, status, code, path)
  }
})

t.test('scopes, case and trailing slashes', async (t) => {
  assertError(t, await get('/tokens/channel/abc'), 400, 'UNKNOWN_SCOPE', '/tokens/channel/abc')
  // The router percent-decodes static segments before matching: %76ideo is video (RFC 3986 equivalence; observed).
  const encodedScope = await get('/tokens/%76ideo/abc123')
  t.equal(encodedScope.status, 200, '/tokens/%76ideo/abc123: 200, the same resource as /tokens/video/abc123 (observed)')
  t.equal(encodedScope.json?.videoId, 'abc123', '/tokens/%76ideo/abc123: videoId abc123')

  const mixed = await get('/tokens/ViDeO/abc123')
  t.equal(mixed.status, 200, '/tokens/ViDeO/abc123: 200')
  t.equal(mixed.json?.videoId, 'abc123', '/tokens/ViDeO/abc123: videoId abc123')

  const trailing = await get('/tokens/video/abc123/')
  t.equal(trailing.status, 200, '/tokens/video/abc123/: 200 (trailing slash ignored) (new)')
  t.equal(trailing.json?.videoId, 'abc123', '/tokens/video/abc123/: videoId abc123 (new)')

  for (const [name, token] of [
    ['portal-bff', portal],
    ['admin-bff', admin]
  ] as const) {
    const plain = await get('/tokens/account', token)
    const slashed = await get('/tokens/account/', token)
    t.equal(
      slashed.status,
      plain.status,
      `/tokens/account/ as ${name}: same status as /tokens/account (${plain.status}) (new)`
    )
    t.equal(
      slashed.json?.error?.code,
      plain.json?.error?.code,
      `/tokens/account/ as ${name}: same code as /tokens/account (new)`
    )
    t.equal(slashed.json?.scope, plain.json?.scope, `/tokens/account/ as ${name}: same scope (new)`)
  }
  t.equal((await get('/tokens/account', admin)).status, 200, 'admin-bff gets an Account token')

  assertError(t, await get('/tokens/video/'), 400, 'MISSING_ID', '/tokens/video/ (new)')
  assertError(t, await get('/tokens/video/abc/extra'), 400, 'INVALID_ID', '/tokens/video/abc/extra (new)')
  assertError(t, await get('/tokens/account/abc'), 400, 'UNEXPECTED_ID', '/tokens/account/abc')
})

t.test('a token in the query string is not accepted and never logged', async (t) => {
  for (const name of ['access_token', 'token']) {
    // A distinct token per case, so a leak is attributable.
    const offered = await emulator.mintCallerToken('portal-bff', { claims: { jti: `query-${name}` } })
    logs.secret(offered)
    const path = `/tokens/video/abc123?${name}=${offered}`
    assertError(t, await get(path, null), 401, 'AUTH_REQUIRED', `?${name}=<jwt> without Authorization`)
    assertNotLogged(t, logs, offered, `?${name}=<jwt>`)
    assertNotLogged(t, logs, offered.split('.')[2] as string, `?${name}=<jwt> (signature alone)`)
  }
})

t.test('other methods: 404 NOT_FOUND', async (t) => {
  for (const method of ['POST', 'PUT', 'PATCH', 'DELETE']) {
    const response = await send(`${method}`, { method, path: '/tokens/video/abc123', token: portal })
    assertError(t, response, 404, 'NOT_FOUND', `${method} /tokens/video/abc123`)
  }
  // OPTIONS: no CORS plugin, so no such route (observed).
  assertError(
    t,
    await send('OPTIONS', { method: 'OPTIONS', path: '/tokens/video/abc123', token: portal }),
    404,
    'NOT_FOUND',
    'OPTIONS /tokens/video/abc123'
  )
  // No automatic HEAD routes: HEAD would mint a token while showing nothing.
  const head = await send('HEAD', { method: 'HEAD', path: '/tokens/video/abc123', token: portal })
  t.equal(head.status, 404, 'HEAD /tokens/video/abc123: 404')
  t.equal(head.body, '', 'HEAD: no body')
})

t.test(
  'odd methods and malformed request lines: 400 INVALID_REQUEST from the client-error handler, never 500',
  async (t) => {
    const cases: Array<[string, string, number, string]> = [
      [
        'unknown method FOO',
        'FOO /tokens/video/abc123 HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n',
        400,
        'INVALID_REQUEST'
      ],
      [
        'space in the path',
        'GET /tokens/video/abc 123 HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n',
        400,
        'INVALID_REQUEST'
      ],
      [
        'NUL in the request line',
        'GET /tokens/video/abc\u0000123 HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n',
        400,
        'INVALID_REQUEST'
      ],
      [
        'header without a colon',
        'GET /tokens/video/abc123 HTTP/1.1\r\nHost: x\r\nthis is not a header\r\nConnection: close\r\n\r\n',
        400,
        'INVALID_REQUEST'
      ],
      ['HTTP/9.9', 'GET /tokens/video/abc123 HTTP/9.9\r\nHost: x\r\nConnection: close\r\n\r\n', 400, 'INVALID_REQUEST']
    ]
    for (const [name, bytes, status, code] of cases) assertError(t, await socket(name, bytes), status, code, name)

    // Raw UTF-8 bytes in the path (not percent-encoded): observed outcome asserted exactly.
    // (Rejected as a bad URL before any route; INVALID_ID would be as good, but this is what it is.)
    const utf8 = Buffer.concat([
      Buffer.from('GET /tokens/video/'),
      Buffer.from('été', 'utf8'),
      Buffer.from(` HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer ${portal}\r\nConnection: close\r\n\r\n`)
    ])
    assertError(t, await socket('raw UTF-8 path', utf8), 400, 'INVALID_REQUEST', 'raw UTF-8 bytes in the id (observed)')
  }
)

t.test('bodies: 1 MB POST is 404 NOT_FOUND; a GET or DELETE with a body is 413 BODY_NOT_ALLOWED', async (t) => {
  const megabyte = '{"a":"' + 'x'.repeat(1024 * 1024 - 8) + '"}'
  const postJson = await send('POST 1MB json', {
    method: 'POST',
    path: '/tokens/video/abc123',
    token: portal,
    headers: ['content-type', 'application/json'],
    body: megabyte
  })
  assertError(t, postJson, 404, 'NOT_FOUND', 'POST 1 MB application/json')
  const postPlain = await send('POST 1MB no type', {
    method: 'POST',
    path: '/tokens/video/abc123',
    token: portal,
    body: megabyte
  })
  assertError(t, postPlain, 404, 'NOT_FOUND', 'POST 1 MB without content-type')
  // Just over bodyLimit (1 KB), other parseable types, other methods, no token, and an unknown route.
  const twoKb = '{"a":"' + 'x'.repeat(2048) + '"}'
  const more: Array<[string, RawRequest & { token?: string }]> = [
    [
      'POST 2 KB application/json',
      {
        method: 'POST',
        path: '/tokens/video/abc123',
        token: portal,
        headers: ['content-type', 'application/json'],
        body: twoKb
      }
    ],
    [
      'POST 2 KB text/plain',
      {
        method: 'POST',
        path: '/tokens/video/abc123',
        token: portal,
        headers: ['content-type', 'text/plain'],
        body: twoKb
      }
    ],
    [
      'PUT 1 MB application/json',
      {
        method: 'PUT',
        path: '/tokens/video/abc123',
        token: portal,
        headers: ['content-type', 'application/json'],
        body: megabyte
      }
    ],
    [
      'PATCH 1 MB application/json',
      {
        method: 'PATCH',
        path: '/tokens/video/abc123',
        token: portal,
        headers: ['content-type', 'application/json'],
        body: megabyte
      }
    ],
    [
      'POST 1 MB application/json without a token',
      { method: 'POST', path: '/tokens/video/abc123', headers: ['content-type', 'application/json'], body: megabyte }
    ],
    [
      'POST 2 KB application/json to an unknown route',
      { method: 'POST', path: '/nope', headers: ['content-type', 'application/json'], body: twoKb }
    ]
  ]
  for (const [name, options] of more) assertError(t, await send(name, options), 404, 'NOT_FOUND', name)
  // A Content-Type that is not a media type at all is a malformed request, whatever the route.
  const badType = await send('bad content-type', {
    method: 'POST',
    path: '/tokens/video/abc123',
    token: portal,
    headers: ['content-type', 'bad/type/x'],
    body: '{}'
  })
  assertError(t, badType, 400, 'INVALID_REQUEST', 'POST small body with an unparseable content-type')

  // The API's own methods take no body: 413 at once, token or not, and the connection closed
  // (docs/edge.md; the slow-body cases are in edge.test.ts).
  const bodied: Array<[string, RawRequest & { token?: string }]> = [
    [
      'GET 1 MB json',
      { path: '/tokens/video/abc123', token: portal, headers: ['content-type', 'application/json'], body: megabyte }
    ],
    ['GET 1 MB bad json', { path: '/tokens/video/abc123', token: portal, body: '{' + 'x'.repeat(1024 * 1024) }],
    ['GET 1 MB no token', { path: '/tokens/video/abc123', body: megabyte }],
    ['DELETE 1 MB', { method: 'DELETE', path: '/cache/video/abc123', token: admin, body: megabyte }]
  ]
  for (const [name, options] of bodied) {
    const response = await send(name, options)
    assertError(t, response, 413, 'BODY_NOT_ALLOWED', name)
    t.equal(response.headers.connection, 'close', `${name}: Connection: close`)
  }
})

t.test('a malformed URL: 400 INVALID_REQUEST', async (t) => {
  for (const path of ['/tokens/video/%zz', '/tokens/video/abc%', '/tokens/video/%E0%A4%A', '/tokens/%zz/abc']) {
    assertError(t, await get(path), 400, 'INVALID_REQUEST', path)
  }
})

t.test('no log line holds any offered token', async (t) => {
  t.equal(logs.leaks().length, 0, 'no registered token in any log line')
})

tally.closingTest(t)
