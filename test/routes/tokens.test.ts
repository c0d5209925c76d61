import { decodeJwt } from 'jose'
import t from 'tap'
import { build } from '../helper.js'
import { FAKE_ACCOUNT, fakeArm } from '../support/fake-arm.js'
import { fakeClock } from '../support/fake-clock.js'
import { aviToken, callerToken, TEST_SECRET } from '../support/tokens.js'

t.test('an allowed caller gets a Video token, with no-store and a request id', async (t) => {
  const { request } = await build(t)
  const response = await request({ url: '/tokens/video/abc123', token: await callerToken('portal-bff') })
  t.equal(response.statusCode, 200)
  t.equal(response.headers['cache-control'], 'no-store')
  t.match(response.headers['x-request-id'], /^[0-9a-f-]{36}$/)
  const body = response.json()
  t.same(Object.keys(body).sort(), ['accessToken', 'account', 'accountName', 'embed', 'expiresOn', 'scope', 'videoId'])
  t.match(body, { scope: 'Video', videoId: 'abc123', accountName: 'contosto-azurevideoindexer' })
  t.same(
    body.account,
    {
      alias: 'default',
      accountName: 'contosto-azurevideoindexer',
      accountId: FAKE_ACCOUNT.accountId,
      location: 'northeurope'
    },
    "Accounts_Get's id, and its location (NorthEurope) in lower case"
  )
  const player = new URL(body.embed.player)
  t.equal(player.origin + player.pathname, `https://www.videoindexer.ai/embed/player/${FAKE_ACCOUNT.accountId}/abc123/`)
  t.equal(player.searchParams.get('accessToken'), body.accessToken)
  t.equal(player.searchParams.get('location'), 'northeurope')
  t.match(body.embed.insights, `https://www.videoindexer.ai/embed/insights/${FAKE_ACCOUNT.accountId}/abc123/?accessToken=`)
  t.equal(body.expiresOn, new Date((decodeJwt(body.accessToken).exp as number) * 1000).toISOString())
})

t.test("Project and Account scopes, with ARM's capitalised names and the right id field", async (t) => {
  const { request } = await build(t)
  const project = await request({ url: '/tokens/project/07ec9e38d4', token: await callerToken('portal-bff') })
  t.equal(project.statusCode, 200)
  t.match(project.json(), { scope: 'Project', projectId: '07ec9e38d4' })
  t.notOk('videoId' in project.json())
  const account = await request({ url: '/tokens/account', token: await callerToken('admin-bff') })
  t.equal(account.statusCode, 200)
  t.match(account.json(), { scope: 'Account' })
  t.notOk('videoId' in account.json() || 'projectId' in account.json())
})

t.test('the scope segment is case-insensitive; the id keeps its case', async (t) => {
  const { request } = await build(t)
  const response = await request({ url: '/tokens/ViDeO/AbC_1-2', token: await callerToken('portal-bff') })
  t.equal(response.statusCode, 200)
  t.equal(response.json().videoId, 'AbC_1-2')
})

t.test('bad ids and paths get a precise 400 before the policy or ARM is asked', async (t) => {
  let armCalls = 0
  const arm = fakeArm(async () => {
    armCalls++
    return { status: 200, body: { accessToken: await aviToken(Math.floor(Date.now() / 1000) + 3600) } }
  })
  const { request } = await build(t, { armHttpClient: arm.client })
  // A caller with no grants at all: a 400 here proves validation came before the policy.
  const token = await callerToken('nobody')
  const cases: Array<[string, string]> = [
    ['/tokens/video/' + 'a'.repeat(65), 'INVALID_ID'],
    ['/tokens/video/a.b', 'INVALID_ID'],
    ['/tokens/video/..%2F..%2Fetc', 'INVALID_ID'],
    ['/tokens/video/%00', 'INVALID_ID'],
    ['/tokens/video/%C3%A9t%C3%A9', 'INVALID_ID'],
    ['/tokens/video/', 'MISSING_ID'],
    ['/tokens/video/abc/extra', 'INVALID_ID'],
    ['/tokens/video', 'MISSING_ID'],
    ['/tokens/project', 'MISSING_ID'],
    ['/tokens/account/abc', 'UNEXPECTED_ID'],
    ['/tokens/channel/abc', 'UNKNOWN_SCOPE'],
    ['/tokens/channel', 'UNKNOWN_SCOPE']
  ]
  for (const [url, code] of cases) {
    const response = await request({ url, token })
    t.equal(response.statusCode, 400, url)
    t.equal(response.json().error.code, code, url)
  }
  t.equal(armCalls, 0)
})

t.test('the policy denies with 403', async (t) => {
  const { request } = await build(t)
  const portal = await callerToken('portal-bff')
  for (const url of ['/tokens/account', '/tokens/project/other-project']) {
    const response = await request({ url, token: portal })
    t.equal(response.statusCode, 403, url)
    t.same(response.json(), { error: { code: 'POLICY_DENIED', message: 'The caller is not allowed this scope or id' } })
  }
  const stranger = await request({ url: '/tokens/video/abc', token: await callerToken('unknown-bff') })
  t.equal(stranger.statusCode, 403)
})

t.test('unauthenticated requests get 401 with WWW-Authenticate, never a 500', async (t) => {
  const { request, app } = await build(t)
  const cases: Array<[string, Record<string, string>, string]> = [
    ['no header', {}, 'AUTH_REQUIRED'],
    ['basic auth', { authorization: 'Basic dXNlcjpwYXNz' }, 'AUTH_REQUIRED'],
    ['bearer without token', { authorization: 'Bearer ' }, 'AUTH_INVALID'],
    ['garbage', { authorization: 'Bearer not.a.jwt' }, 'AUTH_INVALID'],
    [
      'wrong secret',
      { authorization: `Bearer ${await callerToken('portal-bff', { secret: TEST_SECRET + 'x' })}` },
      'AUTH_INVALID'
    ],
    [
      'expired',
      {
        authorization: `Bearer ${await callerToken('portal-bff', { expiresIn: Math.floor(Date.now() / 1000) - 3600 })}`
      },
      'AUTH_EXPIRED'
    ],
    [
      'wrong audience',
      { authorization: `Bearer ${await callerToken('portal-bff', { claims: { aud: 'api://other' } })}` },
      'AUTH_INVALID'
    ],
    [
      'wrong issuer',
      { authorization: `Bearer ${await callerToken('portal-bff', { claims: { iss: 'https://evil/' } })}` },
      'AUTH_INVALID'
    ],
    [
      'no caller claim',
      { authorization: `Bearer ${await callerToken('x', { claims: { azp: undefined, sub: undefined } })}` },
      'AUTH_NO_CALLER'
    ]
  ]
  for (const [name, headers, code] of cases) {
    const response = await request({ url: '/tokens/video/abc', headers })
    t.equal(response.statusCode, 401, name)
    t.equal(response.headers['www-authenticate'], 'Bearer error="invalid_token"', name)
    t.equal(response.json().error.code, code, name)
  }
  const missingExp = await callerToken('portal-bff', { expiresIn: null as unknown as number })
  t.equal((await request({ url: '/tokens/video/abc', token: missingExp })).statusCode, 401, 'exp is required')
  const unsigned = `${Buffer.from('{"alg":"none","typ":"JWT"}').toString('base64url')}.${Buffer.from(
    JSON.stringify({ azp: 'portal-bff', exp: Math.floor(Date.now() / 1000) + 600 })
  ).toString('base64url')}.`
  t.equal(
    (await app.inject({ url: '/tokens/video/abc', headers: { authorization: `Bearer ${unsigned}` } })).statusCode,
    401,
    'alg none'
  )
})

t.test('ARM failures map to 502, 503 with Retry-After, and 504, with safe bodies', async (t) => {
  const scenarios = [
    {
      reply: { status: 404, body: { error: { code: 'ResourceNotFound', message: 'secret internals' } } },
      status: 502,
      code: 'ARM_ERROR'
    },
    { reply: { status: 429, headers: { 'retry-after': '42' } }, status: 503, code: 'ARM_THROTTLED', retryAfter: '42' }
  ]
  for (const scenario of scenarios) {
    const arm = fakeArm(async () => scenario.reply)
    const { request } = await build(t, { armHttpClient: arm.client })
    const response = await request({ url: '/tokens/video/abc', token: await callerToken('portal-bff') })
    t.equal(response.statusCode, scenario.status)
    t.equal(response.json().error.code, scenario.code)
    t.equal(response.headers['retry-after'], scenario.retryAfter)
    t.notMatch(response.body, /secret internals|stack/)
  }
  const hanging = fakeArm(() => new Promise(() => {}))
  const { request } = await build(t, { armHttpClient: hanging.client, env: { ARM_TIMEOUT_MS: '100' } })
  const timeout = await request({ url: '/tokens/video/abc', token: await callerToken('portal-bff') })
  t.equal(timeout.statusCode, 504)
  t.equal(timeout.json().error.code, 'ARM_TIMEOUT')
})

t.test('each request leaves exactly one audit record with its outcome', async (t) => {
  const { request, logs } = await build(t)
  const token = await callerToken('portal-bff')
  const first = await request({
    url: '/tokens/video/abc',
    token,
    headers: { 'user-agent': 'bff/1.0', 'x-request-id': 'trace-1' }
  })
  await request({ url: '/tokens/video/abc', token })
  await request({ url: '/tokens/account', token })
  await request({ url: '/tokens/video/abc' })
  await request({ url: '/tokens/video/a.b', token })
  await request({ url: '/healthz' })
  const audits = logs.audits
  t.equal(audits.length, 5, 'one record per token request, none for health checks')
  t.match(audits[0], {
    audit: true,
    reqId: 'trace-1',
    caller: 'portal-bff',
    scope: 'video',
    resourceId: 'abc',
    account: 'contosto-azurevideoindexer',
    decision: 'allow',
    status: 200,
    code: null,
    cache: 'miss',
    tokenFingerprint: /^[0-9a-f]{16}$/,
    tokenExpiresOn: first.json().expiresOn,
    armRequestId: 'req-1',
    durationMs: Number,
    clientIp: '127.0.0.1',
    userAgent: 'bff/1.0'
  })
  t.equal(first.headers['x-request-id'], 'trace-1', 'a well-formed incoming request id is kept')
  t.match(audits[1], { cache: 'hit', tokenFingerprint: audits[0]?.tokenFingerprint })
  t.match(audits[2], {
    decision: 'deny',
    status: 403,
    code: 'POLICY_DENIED',
    scope: 'account',
    resourceId: null,
    cache: null
  })
  t.match(audits[3], { decision: 'deny', status: 401, code: 'AUTH_REQUIRED', caller: null })
  t.match(audits[4], { decision: 'error', status: 400, code: 'INVALID_ID', resourceId: 'a.b' })
})

t.test('a malformed incoming request id is replaced', async (t) => {
  const { request } = await build(t)
  const response = await request({ url: '/healthz', headers: { 'x-request-id': 'bad id\n{"inject":1}' } })
  t.match(response.headers['x-request-id'], /^[0-9a-f-]{36}$/)
})

t.test('unknown routes and methods get 404 in the error shape', async (t) => {
  const { request } = await build(t)
  for (const options of [{ url: '/nope' }, { url: '/tokens/video/abc', method: 'POST' as const }]) {
    const response = await request(options)
    t.equal(response.statusCode, 404)
    t.same(response.json(), { error: { code: 'NOT_FOUND', message: 'No such route' } })
  }
})

t.test('a failed background refresh keeps serving the cached token and is logged', async (t) => {
  const clock = fakeClock(Date.now())
  let fail = false
  const arm = fakeArm(async () =>
    fail
      ? { status: 500 }
      : { status: 200, body: { accessToken: await aviToken(Math.floor(clock.now() / 1000) + 3600) } }
  )
  const { request, logs } = await build(t, { armHttpClient: arm.client, clock, env: { ARM_MAX_RETRIES: '0' } })
  const token = await callerToken('portal-bff')
  const first = await request({ url: '/tokens/video/abc', token })
  // Past the last point a refresh can start: its start is jittered over 3/4 of the 900 s window.
  clock.advance((3600 - 300 - 900 / 4) * 1000)
  fail = true
  const refreshing = await request({ url: '/tokens/video/abc', token })
  t.equal(refreshing.statusCode, 200)
  t.equal(refreshing.json().accessToken, first.json().accessToken)
  t.equal(logs.audits.at(-1)?.cache, 'refresh')
  await t.resolves(async () => {
    while (!logs.records.some((r) => r.msg === 'background token refresh failed')) {
      await new Promise((resolve) => setTimeout(resolve, 5))
    }
  })
})
