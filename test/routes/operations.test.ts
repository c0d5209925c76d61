// Operator-facing routes and limits: cache eviction, per-caller rate limits, metrics.
import { writeFile } from 'node:fs/promises'
import t from 'tap'
import { build } from '../helper.js'
import { fakeClock } from '../support/fake-clock.js'
import { callerToken } from '../support/tokens.js'

const POLICY = {
  rateLimit: { max: 1000, timeWindow: '1 minute' },
  callers: {
    'portal-bff': { allow: [{ scope: 'video' }], rateLimit: { max: 3, timeWindow: 60_000 } },
    'other-bff': { allow: [{ scope: 'video' }] },
    'ops-bff': { allow: [], admin: true }
  }
}

t.test('an admin caller evicts one cached token or all; the next request mints anew', async (t) => {
  const { request, logs } = await build(t, { policy: POLICY })
  const portal = await callerToken('other-bff')
  const ops = await callerToken('ops-bff')
  const first = await request({ url: '/tokens/video/abc', token: portal })
  await request({ url: '/tokens/video/def', token: portal })
  const evicted = await request({ method: 'DELETE', url: '/cache/video/abc', token: ops })
  t.equal(evicted.statusCode, 200)
  t.same(evicted.json(), { evicted: 1 })
  t.same((await request({ method: 'DELETE', url: '/cache/video/abc', token: ops })).json(), { evicted: 0 })
  const again = await request({ url: '/tokens/video/abc', token: portal })
  t.equal(logs.audits.at(-1)?.cache, 'miss', 'the evicted token is not served again')
  t.not(again.json().accessToken, first.json().accessToken)
  t.same((await request({ method: 'DELETE', url: '/cache', token: ops })).json(), { evicted: 2 })
  t.same((await request({ method: 'DELETE', url: '/cache/account', token: ops })).json(), { evicted: 0 })
  t.same((await request({ method: 'DELETE', url: '/cache/project/p1', token: ops })).json(), { evicted: 0 })
  t.match(logs.audits.filter((a) => a.action === 'evict').at(0), {
    caller: 'ops-bff',
    scope: 'video',
    resourceId: 'abc',
    status: 200
  })
})

t.test('eviction needs the admin flag and a valid token', async (t) => {
  const { request } = await build(t, { policy: POLICY })
  const denied = await request({ method: 'DELETE', url: '/cache', token: await callerToken('other-bff') })
  t.equal(denied.statusCode, 403)
  t.equal(denied.json().error.code, 'ADMIN_REQUIRED')
  t.equal((await request({ method: 'DELETE', url: '/cache' })).statusCode, 401)
  const badId = await request({ method: 'DELETE', url: '/cache/video/a.b', token: await callerToken('ops-bff') })
  t.equal(badId.json().error.code, 'INVALID_ID')
})

t.test(
  'per-caller rate limits from the policy: 429 with Retry-After, and one caller cannot starve another',
  async (t) => {
    const { request } = await build(t, { policy: POLICY })
    const portal = await callerToken('portal-bff')
    const other = await callerToken('other-bff')
    const statuses = []
    for (let i = 0; i < 5; i++) statuses.push((await request({ url: '/tokens/video/abc', token: portal })).statusCode)
    t.same(statuses, [200, 200, 200, 429, 429])
    const limited = await request({ url: '/tokens/video/abc', token: portal })
    t.equal(limited.json().error.code, 'RATE_LIMITED')
    t.ok(Number(limited.headers['retry-after']) > 0 && Number(limited.headers['retry-after']) <= 60)
    t.equal((await request({ url: '/tokens/video/abc', token: other })).statusCode, 200, 'another caller is unaffected')
  }
)

t.test('GET /metrics exposes requests, cache, ARM and process metrics', async (t) => {
  const { request } = await build(t, { policy: POLICY })
  const portal = await callerToken('other-bff')
  await request({ url: '/tokens/video/abc', token: portal })
  await request({ url: '/tokens/video/abc', token: portal })
  await request({ url: '/tokens/video/abc', token: await callerToken('stranger-bff') })
  const metrics = await request({ url: '/metrics' })
  t.equal(metrics.statusCode, 200)
  t.match(metrics.headers['content-type'], /text\/plain/)
  const text = metrics.body
  t.match(text, /vi_broker_token_requests_total\{caller="other-bff",scope="video",status="200",account="default"\} 2/)
  t.match(
    text,
    /vi_broker_token_requests_total\{caller="unknown",scope="video",status="403",account="default"\} 1/,
    'unknown callers share one label'
  )
  t.match(text, /vi_broker_cache_results_total\{result="miss"\} 1/)
  t.match(text, /vi_broker_cache_results_total\{result="hit"\} 1/)
  t.match(text, /vi_broker_cache_entries 1/)
  t.match(text, /vi_broker_arm_request_duration_seconds_count\{status="200"\} 1/)
  t.match(text, /vi_broker_identity_token_requests_total\{result="success"\} 1/)
  t.match(text, /process_resident_memory_bytes/)
  t.match(text, /vi_broker_served_token_remaining_seconds_bucket\{le="2700"\} 0\n/, 'fresh tokens have most of an hour')
  t.match(text, /vi_broker_served_token_remaining_seconds_count 2\n/, 'one observation per token served')
})

t.test('tokens served close to their minimum life show in the served-life histogram', async (t) => {
  const clock = fakeClock(Date.now())
  const { request } = await build(t, { policy: POLICY, clock })
  const token = await callerToken('other-bff')
  t.equal((await request({ url: '/tokens/video/aging', token })).statusCode, 200)
  // 50 minutes 50 s on, the cached token has about 9 minutes left (more by however long building the app took,
  // since the token's exp is from the real clock): still served, above the 5-minute minimum.
  clock.advance(3_050_000)
  t.equal((await request({ url: '/tokens/video/aging', token })).statusCode, 200)
  const text = (await request({ url: '/metrics' })).body
  t.match(text, /vi_broker_served_token_remaining_seconds_bucket\{le="600"\} 1\n/)
  t.match(text, /vi_broker_served_token_remaining_seconds_bucket\{le="300"\} 0\n/, 'never below the minimum')
})

t.test('with METRICS_PORT set, /metrics is not on the main port', async (t) => {
  const { request, app } = await build(t, { env: { METRICS_PORT: '9464' } })
  t.equal((await request({ url: '/metrics' })).statusCode, 404)
  t.match(await (await app.metricsRegistry()).metrics(), /vi_broker_cache_entries 0/)
})

t.test('the app reloads its policy file on change and on demand, and counts the outcomes', async (t) => {
  const dir = t.testdir({ 'policy.json': JSON.stringify({ callers: {} }) })
  const { app, request } = await build(t, { watchPolicy: true, env: { POLICY_FILE: `${dir}/policy.json` } })
  const token = await callerToken('other-bff')
  t.equal(
    (await request({ url: '/tokens/video/abc', token })).statusCode,
    403,
    'the initial policy is the one passed in'
  )
  await writeFile(`${dir}/policy.json`, JSON.stringify(POLICY))
  t.ok(['applied', 'unchanged'].includes(await app.reloadPolicy('test')))
  t.equal((await request({ url: '/tokens/video/abc', token })).statusCode, 200)
  await writeFile(`${dir}/policy.json`, '[]')
  t.equal(await app.reloadPolicy('test'), 'rejected')
  t.equal((await request({ url: '/tokens/video/abc', token })).statusCode, 200, 'the last good policy stays')
  t.match((await request({ url: '/metrics' })).body, /vi_broker_policy_reloads_total\{result="rejected"\} [1-9]/)
})

t.test('load shedding can be turned off', async (t) => {
  const { request } = await build(t, { policy: POLICY, env: { OVERLOAD_TARGET_DELAY_MS: '0' } })
  const token = await callerToken('other-bff')
  for (let i = 0; i < 5; i++) {
    const until = Date.now() + 150
    while (Date.now() < until) {
      // A blocked loop, which would shed with shedding on.
    }
    await new Promise((resolve) => setTimeout(resolve, 15))
  }
  t.equal((await request({ url: '/tokens/video/abc', token })).statusCode, 200)
  t.notMatch((await request({ url: '/metrics' })).body, /vi_broker_requests_shed_total [1-9]/)
})
