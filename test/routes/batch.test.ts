// POST /tokens/batch through app.inject, with the fake ARM: the body's edge cases, per-item rate limits,
// authorisation, metrics and audit records. The emulator-backed acceptance test is test/integration/batch.test.ts.
import type { LightMyRequestResponse } from 'fastify'
import t from 'tap'
import { build, TEST_POLICY, type Built } from '../helper.js'
import { callerToken } from '../support/tokens.js'

/** Sends a batch as JSON (or `raw` as is); every token answered is registered as a secret for the log check. */
async function batch (
  broker: Built,
  token: string | undefined,
  body: unknown,
  options: { raw?: string; headers?: Record<string, string> } = {}
): Promise<LightMyRequestResponse> {
  const response = await broker.request({
    method: 'POST',
    url: '/tokens/batch',
    ...(token === undefined ? {} : { token }),
    headers: { 'content-type': 'application/json', ...options.headers },
    payload: options.raw ?? JSON.stringify(body)
  })
  const results = (response.json() as { results?: Array<{ accessToken?: string }> }).results ?? []
  for (const result of results) broker.logs.secret(result.accessToken)
  return response
}

t.test('a batch answers each item in request order, as its own GET would have been', async (t) => {
  const broker = await build(t)
  const portal = await callerToken('portal-bff')
  const response = await batch(broker, portal, {
    requests: [
      { scope: 'video', id: 'a1' },
      { scope: 'project', id: '07ec9e38d4' },
      { scope: 'account' },
      { scope: 'project', id: 'p2' }
    ]
  })
  t.equal(response.statusCode, 200)
  t.equal(response.headers['cache-control'], 'no-store')
  const { batchId, results } = response.json()
  t.match(batchId, /^[0-9a-f-]{36}$/)
  t.same(results.map((r: { status: number }) => r.status), [200, 200, 403, 403])
  t.match(results[0], { scope: 'Video', videoId: 'a1', accountName: 'contosto-azurevideoindexer' })
  t.same(
    Object.keys(results[0]).sort(),
    ['accessToken', 'account', 'accountName', 'embed', 'expiresOn', 'scope', 'status', 'videoId'],
    "a GET's fields, the account's and the embed URLs included, and the item's status"
  )
  t.match(results[1], { scope: 'Project', projectId: '07ec9e38d4' })
  t.same(results[2], {
    status: 403,
    error: { code: 'POLICY_DENIED', message: 'The caller is not allowed this scope or id' }
  })

  const single = await broker.request({ url: '/tokens/video/a1', token: portal })
  t.equal(single.json().accessToken, results[0].accessToken, 'the single route serves the token the batch minted')

  const records = broker.logs.audits.filter((a) => a.batchId === batchId)
  t.same(records.map((r) => [r.batchItem, r.scope, r.resourceId, r.status, r.code]), [
    [0, 'video', 'a1', 200, null],
    [1, 'project', '07ec9e38d4', 200, null],
    [2, 'account', null, 403, 'POLICY_DENIED'],
    [3, 'project', 'p2', 403, 'POLICY_DENIED']
  ])
  t.match(records[2], { reason: 'scope_not_granted', decision: 'deny', caller: 'portal-bff', action: 'issue' })
  t.match(records[0], { cache: 'miss', decision: 'allow' })
  t.ok(records[0]?.tokenFingerprint, 'an issued item carries its token fingerprint')
  t.equal(broker.logs.audits.at(-1)?.batchId, null, 'a single request has no batch')
  t.equal(broker.logs.audits.length, 5, 'one record per item and one for the single request, none for the batch')

  const metrics = await broker.app.inject({ url: '/metrics' })
  t.match(metrics.body, /vi_broker_token_requests_total\{caller="portal-bff",scope="video",status="200",account="default"\} 2/)
  t.match(metrics.body, /vi_broker_token_requests_total\{caller="portal-bff",scope="project",status="403",account="default"\} 1/)
  t.match(metrics.body, /vi_broker_token_requests_total\{caller="portal-bff",scope="account",status="403",account="default"\} 1/)
  t.notMatch(metrics.body, /scope="batch"/, 'a batch answered 200 is counted only as its items')
})

t.test('duplicates in a batch share one mint', async (t) => {
  const broker = await build(t)
  const portal = await callerToken('portal-bff')
  const requests = [{ scope: 'video', id: 'dup' }, { scope: 'video', id: 'other' }, { scope: 'video', id: 'dup' }]
  const { results, batchId } = (await batch(broker, portal, { requests })).json()
  t.same(results.map((r: { status: number }) => r.status), [200, 200, 200])
  t.equal(results[0].accessToken, results[2].accessToken)
  t.not(results[0].accessToken, results[1].accessToken)
  const records = broker.logs.audits.filter((a) => a.batchId === batchId)
  t.same(records.map((r) => r.cache), ['miss', 'miss', 'coalesced'], 'the duplicate joined the first mint')
})

t.test('a bad body refuses the whole batch, naming the first bad item; nothing is minted', async (t) => {
  const broker = await build(t, { env: { BATCH_MAX_ITEMS: '3' } })
  // A caller with no grants: a 400 proves the body was checked before any item was authorised.
  const nobody = await callerToken('nobody')
  const NOT_A_BATCH = 'the body must be {"requests": [...]}'
  const SCOPE = 'scope must be account, project or video'
  const ID = 'id must match ^[A-Za-z0-9_-]{1,64}$'
  const cases: Array<[string, unknown, string]> = [
    ['no requests', {}, NOT_A_BATCH],
    ['requests not an array', { requests: { scope: 'video' } }, NOT_A_BATCH],
    ['an extra field', { requests: [], more: 1 }, NOT_A_BATCH],
    ['an array body', [], NOT_A_BATCH],
    ['no items', { requests: [] }, '"requests" is empty'],
    ['too many items', { requests: Array(4).fill({ scope: 'account' }) }, '"requests" has 4 items; at most 3'],
    ['an item not an object', { requests: [{ scope: 'account' }, 'video'] }, 'requests[1] must be an object'],
    ['an item that is null', { requests: [null] }, 'requests[0] must be an object'],
    [
      'an unknown field',
      { requests: [{ scope: 'video', id: 'a', ids: ['b'] }] },
      'requests[0] may have only "scope" and "id"'
    ],
    ['an unknown scope', { requests: [{ scope: 'channel', id: 'a' }] }, `requests[0].${SCOPE}`],
    ['a scope in capitals', { requests: [{ scope: 'Video', id: 'a' }] }, `requests[0].${SCOPE}`],
    ['no scope', { requests: [{ id: 'a' }] }, `requests[0].${SCOPE}`],
    ['an account id', { requests: [{ scope: 'account', id: 'a' }] }, 'requests[0]: Account scope takes no id'],
    ['no video id', { requests: [{ scope: 'account' }, { scope: 'video' }] }, 'requests[1]: video scope needs an id'],
    ['a bad id', { requests: [{ scope: 'video', id: 'a' }, { scope: 'project', id: 'a.b' }] }, `requests[1].${ID}`],
    ['a long id', { requests: [{ scope: 'video', id: 'a'.repeat(65) }] }, `requests[0].${ID}`],
    ['a numeric id', { requests: [{ scope: 'video', id: 12 }] }, 'requests[0].id must match ^[A-Za-z0-9_-]{1,64}$']
  ]
  for (const [name, body, problem] of cases) {
    const response = await batch(broker, nobody, body)
    t.equal(response.statusCode, 400, name)
    t.same(response.json(), { error: { code: 'INVALID_BATCH', message: `The batch is not valid: ${problem}` } }, name)
  }
  const notJson: Array<[string, string]> = [
    ['truncated', '{"requests": ['],
    ['empty', ''],
    ['a proto key', '{"requests": [], "__proto__": {"x": 1}}']
  ]
  for (const [name, raw] of notJson) {
    const response = await batch(broker, nobody, undefined, { raw })
    t.equal(response.statusCode, 400, name)
    t.same(response.json().error, { code: 'INVALID_BATCH', message: 'The batch is not valid: the body is not JSON' },
      name)
  }
  t.equal(broker.logs.audits.filter((a) => a.status === 200).length, 0, 'nothing was issued')
  t.match(broker.logs.audits.at(-1), { scope: 'batch', status: 400, code: 'INVALID_BATCH', batchId: null })
  const metrics = await broker.app.inject({ url: '/metrics' })
  t.match(metrics.body, /vi_broker_token_requests_total\{caller="unknown",scope="batch",status="400",account="default"\} 20/)
})

t.test('only application/json, within a body limit sized for BATCH_MAX_ITEMS', async (t) => {
  const broker = await build(t, { env: { BATCH_MAX_ITEMS: '2' } })
  const portal = await callerToken('portal-bff')
  const body = { requests: [{ scope: 'video', id: 'a' }] }
  for (const type of ['text/plain', 'application/x-www-form-urlencoded', 'application/jsonx', 'multipart/form-data']) {
    const response = await batch(broker, portal, body, { headers: { 'content-type': type } })
    t.equal(response.statusCode, 415, type)
    t.equal(response.json().error.code, 'UNSUPPORTED_MEDIA_TYPE', type)
    t.equal(response.headers.connection, 'close', `${type}: the connection is closed`)
  }
  const charset = await batch(broker, portal, body, { headers: { 'content-type': 'application/json; charset=utf-8' } })
  t.equal(charset.statusCode, 200, 'a charset parameter is fine')

  // 1 KB for the envelope and 256 bytes an item: 1,536 bytes for two items.
  const padded = JSON.stringify(body).replace('{', '{' + ' '.repeat(1536))
  const large = await batch(broker, portal, undefined, { raw: padded })
  t.equal(large.statusCode, 413)
  t.equal(large.json().error.code, 'BODY_TOO_LARGE')
  t.equal(large.headers.connection, 'close')
  const fits = await batch(broker, portal, undefined, { raw: padded.slice(0, 1536) })
  t.equal(fits.statusCode, 400, 'a body within the limit is read (and this one is cut short)')
  t.match(broker.logs.audits.at(-2), { scope: 'batch', status: 413, code: 'BODY_TOO_LARGE' })

  const anonymous = await batch(broker, undefined, body)
  t.equal(anonymous.statusCode, 401, 'an unauthenticated batch is refused before its body is read')
  t.equal(anonymous.json().error.code, 'AUTH_REQUIRED')
  const get = await broker.request({ url: '/tokens/batch', token: portal })
  t.equal(get.json().error.code, 'UNKNOWN_SCOPE', 'GET /tokens/batch is a near miss of the token routes')
})

t.test("each item is one request against the caller's rate limit; an item over it gets 429 in its slot", async (t) => {
  const limited = { ...TEST_POLICY.callers['portal-bff'], rateLimit: { max: 4, timeWindow: '1 minute' } }
  const policy = { ...TEST_POLICY, callers: { ...TEST_POLICY.callers, 'portal-bff': limited } }
  const broker = await build(t, { policy })
  const portal = await callerToken('portal-bff')
  const single = await broker.request({ url: '/tokens/video/first', token: portal })
  t.equal(single.statusCode, 200)
  const requests = ['a', 'b', 'c', 'd'].map((id) => ({ scope: 'video', id }))
  const response = await batch(broker, portal, { requests })
  t.equal(response.statusCode, 200)
  const { results, batchId } = response.json()
  t.same(results.map((r: { status: number }) => r.status), [200, 200, 200, 429], 'one request spent, three left')
  t.match(results[3], { error: { code: 'RATE_LIMITED' } })
  t.ok(results[3].retryAfterSeconds > 0, 'the slot says when to retry')
  t.match(broker.logs.audits.filter((a) => a.batchId === batchId).at(-1), {
    status: 429,
    code: 'RATE_LIMITED',
    decision: 'deny'
  })

  const next = await broker.request({ url: '/tokens/video/first', token: portal })
  t.equal(next.statusCode, 429, 'the batch spent the rest: the next single request is over the limit')
  const refused = await batch(broker, portal, { requests: [] })
  t.equal(refused.statusCode, 429, 'a batch refused as a whole, over the limit, is 429')
  t.ok(Number(refused.headers['retry-after']) > 0)
  const other = await batch(broker, await callerToken('admin-bff'), { requests: [{ scope: 'account' }] })
  t.same(other.json().results.map((r: { status: number }) => r.status), [200], "another caller's budget is its own")
})

t.test('AUDIT_LOG_FILE=/dev/full: no item record can be written, so the batch is withheld', async (t) => {
  const broker = await build(t, { env: { AUDIT_LOG_FILE: '/dev/full' } })
  const response = await batch(broker, await callerToken('portal-bff'), { requests: [{ scope: 'video', id: 'a' }] })
  t.equal(response.statusCode, 503)
  t.equal(response.json().error.code, 'AUDIT_UNAVAILABLE')
  t.notMatch(response.body, /accessToken/)
})
