import { RestError } from '@azure/core-rest-pipeline'
import { CredentialUnavailableError, type TokenCredential } from '@azure/identity'
import { pino } from 'pino'
import t from 'tap'
import { createArmGate } from '../src/arm-gate.js'
import { createLocalThrottle } from '../src/write-budget.js'
import { createMetrics } from '../src/metrics.js'
import { parseRetryAfter } from '../src/arm-response.js'
import { createArmClient, type ArmClientOptions } from '../src/arm.js'
import { systemClock } from '../src/clock.js'
import { loadConfig } from '../src/config.js'
import type { Account, TokenRequest } from '../src/token-source.js'
import { TEST_ENV } from './helper.js'
import { fakeArm, fakeCredential, type FakeReply } from './support/fake-arm.js'

const config = loadConfig({ ...TEST_ENV, ARM_TIMEOUT_MS: '300', ARM_RETRY_AFTER_CAP_SECONDS: '1' })
const ACCOUNT_PATH =
  '/subscriptions/b04775c3-63fa-40f3-9430-139d2e5522d3/resourceGroups/contosto-azurevideoindexer-rg' +
  '/providers/Microsoft.VideoIndexer/accounts/contosto-azurevideoindexer' +
  '/generateRestrictedViewerAccessToken?api-version=2024-01-01'

const localThrottle = () => createLocalThrottle({ bucket: config.arm.writeBucket, clock: systemClock })

function client (
  replies: Array<FakeReply | (() => Promise<FakeReply>)>,
  { credential, ...overrides }: Partial<ArmClientOptions> & { credential?: TokenCredential } = {}
) {
  let call = 0
  const arm = fakeArm(async () => {
    const reply = replies[Math.min(call++, replies.length - 1)] as FakeReply | (() => Promise<FakeReply>)
    return typeof reply === 'function' ? reply() : reply
  })
  const identity = fakeCredential()
  const source = createArmClient({
    arm: config.arm,
    identities: [{ id: 'default', credential: credential ?? identity.credential }],
    clock: systemClock,
    gate: createArmGate({ maxConcurrency: 4, local: localThrottle() }),
    metrics: createMetrics(),
    logger: pino({ level: 'silent' }),
    httpClient: arm.client,
    random: () => 0,
    ...overrides
  })
  // The ARM tier, asked for tokens of the configured account.
  const armClient = {
    mint: (request: Omit<TokenRequest, 'account'>) => source.get({ account: config.account as Account, ...request })
  }
  return { armClient, calls: arm.calls, identity: identity.state }
}

const ok: FakeReply = { status: 200, body: { accessToken: 'minted-token' } }

t.test('mints with the scope and id in the body and the identity token as bearer', async (t) => {
  const { armClient, calls, identity } = client([ok])
  const video = await armClient.mint({ scope: 'video', id: 'abc123' })
  await armClient.mint({ scope: 'project', id: '07ec9e38d4' })
  await armClient.mint({ scope: 'account' })
  t.same(video, { accessToken: 'minted-token', armRequestId: 'req-1' })
  t.equal(calls[0]?.url, `https://management.azure.com${ACCOUNT_PATH}`)
  t.same(
    calls.map((c) => c.body),
    [{ scope: 'Video', videoId: 'abc123' }, { scope: 'Project', projectId: '07ec9e38d4' }, { scope: 'Account' }]
  )
  t.equal(calls[0]?.authorization, 'Bearer fake-identity-token-0123456789')
  t.equal(identity.calls, 1, 'the identity token is reused, not fetched per call')
})

t.test("ARM errors become 502 ARM_ERROR with ARM's code in the details, parsed defensively", async (t) => {
  for (const [reply, armCode] of [
    [{ status: 400, body: {} }, 'HTTP400'],
    [{ status: 404, body: { error: { code: 'ResourceNotFound', message: 'internal detail' } } }, 'ResourceNotFound'],
    [{ status: 403, body: 'not json' }, 'HTTP403'],
    [{ status: 401 }, 'HTTP401']
  ] as const) {
    const { armClient, calls } = client([reply])
    const error = await armClient.mint({ scope: 'video', id: 'x' }).catch((e: unknown) => e)
    t.match(error, { code: 'ARM_ERROR', statusCode: 502, details: [{ code: armCode }] }, `HTTP ${reply.status}`)
    t.notMatch(
      JSON.stringify((error as { details: unknown }).details),
      /internal detail/,
      "ARM's message stays in the logs"
    )
    t.equal(calls.length, 1, 'client errors are not retried')
  }
})

t.test('a 200 without an access token is an ARM_ERROR', async (t) => {
  const { armClient } = client([{ status: 200, body: {} }])
  await t.rejects(armClient.mint({ scope: 'account' }), { code: 'ARM_ERROR', details: [{ code: 'InvalidResponse' }] })
})

t.test("server errors are retried a bounded number of times, then answered as 503 with ARM's code", async (t) => {
  const recovering = client([{ status: 500 }, { status: 502 }, ok])
  t.equal((await recovering.armClient.mint({ scope: 'account' })).accessToken, 'minted-token')
  t.equal(recovering.calls.length, 3)

  const failing = client([{ status: 500, body: { error: { code: 'GENERAL' } } }])
  await t.rejects(failing.armClient.mint({ scope: 'account' }), {
    code: 'ARM_UNAVAILABLE',
    statusCode: 503,
    retryAfterSeconds: 5,
    details: [{ code: 'GENERAL' }]
  })
  t.equal(failing.calls.length, config.arm.maxRetries + 1)
})

t.test('429 honours Retry-After up to the cap, then answers 503 ARM_THROTTLED with Retry-After', async (t) => {
  const short = client([{ status: 429, headers: { 'retry-after': '0' } }, ok])
  t.equal((await short.armClient.mint({ scope: 'account' })).accessToken, 'minted-token')
  t.equal(short.calls.length, 2)

  const long = client([{ status: 429, headers: { 'retry-after': '30' } }])
  await t.rejects(long.armClient.mint({ scope: 'account' }), {
    code: 'ARM_THROTTLED',
    statusCode: 503,
    retryAfterSeconds: 30
  })
  t.equal(long.calls.length, 1, 'a wait beyond the cap is handed back to the caller, not slept')

  const unspecified = client([{ status: 429 }])
  await t.rejects(unspecified.armClient.mint({ scope: 'account' }), { code: 'ARM_THROTTLED', retryAfterSeconds: 5 })
})

t.test('503 and network failures are ARM_UNAVAILABLE with Retry-After', async (t) => {
  const unavailable = client([{ status: 503, headers: { 'retry-after': '7' } }])
  await t.rejects(unavailable.armClient.mint({ scope: 'account' }), { code: 'ARM_UNAVAILABLE', retryAfterSeconds: 7 })

  const refused = client([
    async () => {
      throw new RestError('connect ECONNREFUSED', { code: 'ECONNREFUSED' })
    }
  ])
  await t.rejects(refused.armClient.mint({ scope: 'account' }), {
    code: 'ARM_UNAVAILABLE',
    statusCode: 503,
    retryAfterSeconds: 5
  })
  t.equal(refused.calls.length, config.arm.maxRetries + 1)
})

t.test('a hanging ARM ends at the deadline with 504 ARM_TIMEOUT', async (t) => {
  const hanging = client([() => new Promise<FakeReply>(() => {})])
  await t.rejects(hanging.armClient.mint({ scope: 'account' }), { code: 'ARM_TIMEOUT', statusCode: 504 })
})

t.test('a retry that would pass the deadline is not attempted', async (t) => {
  // Backoff with full jitter pinned to its ceiling: 200 ms fits the 300 ms deadline, the next 400 ms does not.
  const slow = client([{ status: 500 }, { status: 500 }, ok], { random: () => 1 })
  await t.rejects(slow.armClient.mint({ scope: 'account' }), { code: 'ARM_UNAVAILABLE' })
  t.equal(slow.calls.length, 2)
})

t.test('identity failures are IDENTITY_UNAVAILABLE, whether they throw or hang', async (t) => {
  const throwing: TokenCredential = {
    async getToken () {
      throw new CredentialUnavailableError('no identity endpoint')
    }
  }
  await t.rejects(client([ok], { credential: throwing }).armClient.mint({ scope: 'account' }), {
    code: 'IDENTITY_UNAVAILABLE',
    statusCode: 503,
    retryAfterSeconds: 5
  })
  const hanging: TokenCredential = { getToken: () => new Promise(() => {}) }
  const stuck = client([ok], { credential: hanging })
  await t.rejects(stuck.armClient.mint({ scope: 'account' }), { code: 'IDENTITY_UNAVAILABLE' })
  t.equal(stuck.calls.length, 0, 'ARM was never called')
})

t.test('parseRetryAfter reads seconds and HTTP dates', async (t) => {
  const now = Date.UTC(2026, 10, 27, 12, 0, 0)
  t.equal(parseRetryAfter('12', now), 12_000)
  t.equal(parseRetryAfter(new Date(now + 3000).toUTCString(), now), 3000)
  t.equal(parseRetryAfter(new Date(now - 3000).toUTCString(), now), 0)
  t.equal(parseRetryAfter('soon', now), undefined)
  t.equal(parseRetryAfter(null, now), undefined)
  t.equal(parseRetryAfter(undefined, now), undefined)
})

t.test('a pool spreads mints by remaining writes, and a 429 moves them to another identity at once', async (t) => {
  const metrics = createMetrics()
  const remaining: Record<string, number> = { 'Bearer token-a': 10, 'Bearer token-b': 12 }
  const throttled = new Set<string>()
  const arm = fakeArm(async (request) => {
    const authorization = request.headers.get('authorization') as string
    if (throttled.has(authorization)) return { status: 429, headers: { 'retry-after': '30' } }
    remaining[authorization] = (remaining[authorization] as number) - 1
    return {
      status: 200,
      body: { accessToken: 'minted-token' },
      headers: { 'x-ms-ratelimit-remaining-subscription-writes': String(remaining[authorization]) }
    }
  })
  const source = createArmClient({
    arm: config.arm,
    identities: [
      { id: 'client-a', credential: fakeCredential('token-a').credential },
      { id: 'client-b', credential: fakeCredential('token-b').credential }
    ],
    clock: systemClock,
    gate: createArmGate({ maxConcurrency: 1, local: localThrottle() }),
    metrics,
    logger: pino({ level: 'silent' }),
    httpClient: arm.client
  })
  const mint = () => source.get({ account: config.account as Account, scope: 'account' })
  for (let i = 0; i < 4; i++) await mint()
  const users = arm.calls.map((c) => c.authorization)
  t.same(
    users,
    ['Bearer token-a', 'Bearer token-b', 'Bearer token-b', 'Bearer token-b'],
    'after one answer each, client-b has more writes left (11 to 9), until both have 9'
  )
  throttled.add('Bearer token-a')
  arm.calls.length = 0
  await mint()
  await mint()
  t.same(
    arm.calls.map((c) => c.authorization),
    ['Bearer token-a', 'Bearer token-b', 'Bearer token-b'],
    'a 429 on client-a held it; the retry went to client-b without waiting 30 s, and so did the next mint'
  )
  const text = await metrics.registry.metrics()
  t.match(text, /vi_broker_arm_throttle_holds_total\{identity="client-a"\} 1/)
  t.match(text, /vi_broker_arm_remaining_writes\{identity="client-b"\} 7/)
  t.match(text, /vi_broker_arm_mints_total\{identity="client-a",status="429"\} 1/)
  t.match(text, /vi_broker_arm_mints_total\{identity="client-b",status="200"\} 5/)
  throttled.add('Bearer token-b')
  await t.rejects(mint(), { code: 'ARM_THROTTLED', retryAfterSeconds: 30 }, 'all held: the shortest hold is the wait')
})

t.test('Accounts_Get: a transport failure, a refusal and an answer', async (t) => {
  let answer: () => Promise<{ status: number; bodyAsText: string }> = async () => {
    throw new RestError('connect ECONNREFUSED', { code: 'ECONNREFUSED' })
  }
  const source = createArmClient({
    arm: config.arm,
    identities: [{ id: 'default', credential: fakeCredential().credential }],
    clock: systemClock,
    gate: createArmGate({ maxConcurrency: 1, local: localThrottle() }),
    metrics: createMetrics(),
    logger: pino({ level: 'silent' }),
    httpClient: { sendRequest: async (request) => ({ request, headers: request.headers, ...(await answer()) }) }
  })
  const account = config.account as Account
  await t.rejects(source.readAccount(account), { code: 'ARM_UNAVAILABLE' })
  answer = async () => ({ status: 404, bodyAsText: '{}' })
  await t.rejects(source.readAccount(account), { code: 'ARM_ERROR', details: [{ code: 'HTTP404' }] })
  const accountId = '462af7c5-d1f6-4b91-86e3-8bc5e8a61574'
  const body = JSON.stringify({ location: 'NorthEurope', properties: { accountId } })
  answer = async () => ({ status: 200, bodyAsText: body })
  t.same(await source.readAccount(account), { accountId, location: 'northeurope' })
})
