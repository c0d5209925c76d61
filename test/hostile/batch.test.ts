// POST /tokens/batch, the one route that reads a body, driven as an attacker would: arbitrary JSON and
// arbitrary items (fast-check), hostile JSON, and bodies declared or sent beyond the limit over a raw socket.
import fc from 'fast-check'
import t from 'tap'
import { build } from '../helper.js'
import { callerToken } from '../support/tokens.js'
import { NUM_RUNS, within } from './support/fuzz.js'
import { assertError, rawRequest, socketRequest, Tally } from './support/hostile.js'

const ID = /^[A-Za-z0-9_-]{1,64}$/
const SCOPES = new Set(['account', 'project', 'video'])
const tally = new Tally()
const broker = await build(t, {
  env: { BATCH_MAX_ITEMS: '5' },
  // Limits high enough that the fuzzing below never meets them.
  policy: {
    rateLimit: { max: 100_000, timeWindow: '1 minute' },
    callers: { 'portal-bff': { allow: [{ scope: 'video' }, { scope: 'project', ids: ['p1'] }] } }
  }
})
const { app, logs } = broker
const baseUrl = await app.listen({ port: 0, host: '127.0.0.1' })
const portal = await callerToken('portal-bff')
logs.secret(portal)

/** Posts a body through app.inject; every token answered is registered as a secret, and no item may be a 500. */
async function post (label: string, payload: string, contentType = 'application/json') {
  const response = await within(
    app.inject({
      method: 'POST',
      url: '/tokens/batch',
      headers: { authorization: `Bearer ${portal}`, 'content-type': contentType },
      payload
    }),
    label
  )
  tally.see(label, response.statusCode)
  const results = (safeJson(response.body) as { results?: Array<{ status: number; accessToken?: string }> })?.results
  for (const item of results ?? []) {
    logs.secret(item.accessToken)
    tally.see(`${label}: item`, item.status)
  }
  return { status: response.statusCode, body: safeJson(response.body) as any }
}

/** Is this a valid item, as parseBatch must judge it? */
function validItem (item: unknown): boolean {
  if (typeof item !== 'object' || item === null || Array.isArray(item)) return false
  const { scope, id, ...rest } = item as Record<string, unknown>
  if (Object.keys(rest).length > 0 || typeof scope !== 'string' || !SCOPES.has(scope)) return false
  return scope === 'account' ? id === undefined : typeof id === 'string' && ID.test(id)
}

t.test('fuzz: arbitrary JSON bodies get 200 or 400 INVALID_BATCH, never a 500', async (t) => {
  const statuses = new Map<number, number>()
  await t.resolves(
    fc.assert(
      fc.asyncProperty(fc.oneof(fc.jsonValue(), fc.record({ requests: fc.jsonValue() })), async (value) => {
        const { status, body } = await post('arbitrary JSON', JSON.stringify(value))
        statuses.set(status, (statuses.get(status) ?? 0) + 1)
        if (status !== 200 && !(status === 400 && body?.error?.code === 'INVALID_BATCH')) {
          throw new Error(`${JSON.stringify(value).slice(0, 200)}: ${status} ${body?.error?.code}`)
        }
      }),
      { numRuns: NUM_RUNS }
    )
  )
  t.ok((statuses.get(400) ?? 0) > 0, `outcomes: ${[...statuses].map(([s, n]) => `${s} x${n}`).join(', ')}`)
})

t.test('fuzz: a batch of arbitrary items is served iff every item is valid, else 400 naming the first bad one',
  async (t) => {
    const scope = fc.oneof(fc.constantFrom('account', 'project', 'video'), fc.string({ maxLength: 8 }), fc.integer())
    const id = fc.oneof(
      fc.stringMatching(/^[A-Za-z0-9_-]{1,70}$/),
      fc.string({ unit: 'binary', maxLength: 70 }),
      fc.constant(undefined),
      fc.integer(),
      fc.constant(null)
    )
    const valid = fc.oneof(
      fc.constant({ scope: 'account' }),
      fc.record({ scope: fc.constantFrom('project', 'video'), id: fc.stringMatching(/^[A-Za-z0-9_-]{1,64}$/) })
    )
    const item = fc.oneof(
      { weight: 12, arbitrary: valid },
      { weight: 2, arbitrary: fc.record({ scope, id }, { requiredKeys: ['scope'] }) },
      { weight: 1, arbitrary: fc.jsonValue() }
    )
    const seen = { served: 0, refused: 0 }
    await t.resolves(
      fc.assert(
        fc.asyncProperty(fc.array(item, { minLength: 1, maxLength: 5 }), async (items) => {
          const { status, body } = await post('arbitrary items', JSON.stringify({ requests: items }))
          // JSON drops undefined values, as the server sees them.
          const sent = JSON.parse(JSON.stringify(items)) as unknown[]
          const bad = sent.findIndex((one) => !validItem(one))
          if (bad === -1) {
            seen.served++
            if (status !== 200 || body.results.length !== sent.length) throw new Error(`valid batch: ${status}`)
            for (const result of body.results as Array<{ status: number }>) {
              if (![200, 403].includes(result.status)) throw new Error(`item status ${result.status}`)
            }
          } else {
            seen.refused++
            const message = String(body?.error?.message)
            if (status !== 400 || !message.includes(`requests[${bad}]`)) {
              throw new Error(`${JSON.stringify(sent).slice(0, 200)}: ${status} ${message}; first bad item ${bad}`)
            }
          }
        }),
        { numRuns: NUM_RUNS }
      )
    )
    t.ok(seen.served > 20 && seen.refused > 20, `both outcomes (${seen.served} served, ${seen.refused} refused)`)
  })

t.test('hostile JSON: poisoned prototypes, deep nesting, huge numbers, many keys: 400, never a 500', async (t) => {
  const cases: Array<[string, string]> = [
    ['__proto__', '{"requests": [{"scope": "video", "id": "a", "__proto__": {"admin": true}}]}'],
    ['constructor.prototype', '{"requests": [], "constructor": {"prototype": {"admin": true}}}'],
    ['deep nesting', '{"requests": ' + '['.repeat(1000) + ']'.repeat(1000) + '}'],
    ['a huge number as id', '{"requests": [{"scope": "video", "id": 1e400}]}'],
    ['many keys', '{"requests": [{' + Array.from({ length: 150 }, (_, i) => `"k${i}":1`).join(',') + '}]}'],
    ['NUL in an id', '{"requests": [{"scope": "video", "id": "a\\u0000b"}]}'],
    ['a lone surrogate', '{"requests": [{"scope": "video", "id": "\\ud800"}]}']
  ]
  for (const [name, payload] of cases) {
    const { status, body } = await post(name, payload)
    t.equal(status, 400, name)
    t.equal(body.error.code, 'INVALID_BATCH', name)
  }
  t.equal(({} as Record<string, unknown>).admin, undefined, 'no prototype was polluted')
  // As Fastify's own JSON parser (secure-json-parse) reads it: RFC 8259 lets a parser ignore a BOM.
  const bom = await post('a BOM', '\ufeff{"requests": [{"scope": "video", "id": "bom"}]}')
  t.equal(bom.status, 200, 'a leading byte order mark is ignored')
})

t.test('a body declared or sent beyond the limit is refused at once, and its connection closed', async (t) => {
  // 1 KB for the envelope and 256 bytes an item: 2,304 bytes for five.
  for (const [name, auth] of [['no token', ''], ['a token', `Authorization: Bearer ${portal}\r\n`]] as const) {
    const response = await socketRequest(
      baseUrl,
      `POST /tokens/batch HTTP/1.1\r\nHost: x\r\n${auth}Content-Type: application/json\r\n` +
        'Content-Length: 1000000000\r\n\r\n{"requests": ['
    )
    tally.see(`declared 1 GB, ${name}`, response.status)
    assertError(t, response, 413, 'BODY_TOO_LARGE', `declared 1 GB, ${name}`)
    t.equal(response.headers.connection, 'close', `${name}: Connection: close`)
  }
  const chunk = '{"requests": [' + ' '.repeat(4000) + ']}'
  const chunked = await socketRequest(
    baseUrl,
    `POST /tokens/batch HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer ${portal}\r\nContent-Type: application/json\r\n` +
      `Transfer-Encoding: chunked\r\n\r\n${chunk.length.toString(16)}\r\n${chunk}\r\n0\r\n\r\n`
  )
  tally.see('chunked 4 KB', chunked.status)
  assertError(t, chunked, 413, 'BODY_TOO_LARGE', 'a chunked body over the limit')
  t.equal(chunked.headers.connection, 'close')

  const wrongType = await rawRequest(baseUrl, {
    method: 'POST',
    path: '/tokens/batch',
    headers: ['authorization', `Bearer ${portal}`, 'content-type', 'text/plain'],
    body: 'x'.repeat(100_000)
  })
  tally.see('100 KB text/plain', wrongType.status)
  t.ok([413, 415].includes(wrongType.status), `a large body of another type: ${wrongType.status}`)
  t.equal(wrongType.headers.connection, 'close')
  const unparseable = await post('an unparseable content-type', '{}', 'bad/type/x')
  t.equal(unparseable.body.error.code, 'UNSUPPORTED_MEDIA_TYPE', 'an unparseable content-type')
})

t.test('five copies of one id: one token, five answers', async (t) => {
  const requests = Array(5).fill({ scope: 'video', id: 'same' })
  const { status, body } = await post('duplicates', JSON.stringify({ requests }))
  t.equal(status, 200)
  t.equal(new Set(body.results.map((r: { accessToken: string }) => r.accessToken)).size, 1)
})

t.test('no log line holds any token', async (t) => {
  t.equal(logs.leaks().length, 0)
})

function safeJson (text: string): unknown {
  try {
    return JSON.parse(text)
  } catch {
    return undefined
  }
}

tally.closingTest(t)
