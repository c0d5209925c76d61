// The client against the real broker and emulator over loopback: caching, one request for concurrent calls,
// Retry-After, 403 and 401 handling.
import t from 'tap'
import { BrokerError, createBrokerClient } from '../src/index.js'
import { countingFetch, liveBroker } from './support/broker.js'

// The broker hands ARM's 503 straight back (no retries of its own), so the client's retry is what is tested.
const live = await liveBroker(t, { ARM_MAX_RETRIES: '0' })
const portal = await live.callerJwt('portal-bff')

function client (options: Partial<Parameters<typeof createBrokerClient>[0]> = {}) {
  const counting = countingFetch()
  const broker = createBrokerClient({ baseUrl: live.url, credential: () => portal, fetch: counting.fetch, ...options })
  return { broker, requests: counting.requests }
}

async function refusal (promise: Promise<unknown>): Promise<BrokerError> {
  const error = await promise.then(() => undefined, (error: unknown) => error)
  if (!(error instanceof BrokerError)) throw new Error(`expected a BrokerError, got ${String(error)}`)
  return error
}

t.beforeEach(() => live.emulator.reset())

t.test('a cached token makes no second request', async (t) => {
  const { broker, requests } = client()
  const first = await broker.videoToken('07ec9e38d4')
  live.secret(first.accessToken)
  t.equal(first.scope, 'Video')
  t.equal(first.videoId, '07ec9e38d4')
  const second = await broker.videoToken('07ec9e38d4')
  t.equal(second.accessToken, first.accessToken)
  t.same(requests, ['GET /tokens/video/07ec9e38d4'])
})

t.test('concurrent calls for one token make one request', async (t) => {
  const { broker, requests } = client()
  const tokens = await Promise.all(Array.from({ length: 5 }, () => broker.videoToken('c0ncurrent')))
  live.secret(tokens[0]!.accessToken)
  t.equal(new Set(tokens.map((token) => token.accessToken)).size, 1)
  t.same(requests, ['GET /tokens/video/c0ncurrent'])
})

t.test('a token is asked for again once it is within the margin of its expiry', async (t) => {
  // Every token lives an hour: with a margin of an hour, none is ever fresh enough to keep.
  const { broker, requests } = client({ refreshMarginSeconds: 3600 })
  live.secret((await broker.videoToken('marg1n')).accessToken)
  live.secret((await broker.videoToken('marg1n')).accessToken)
  t.equal(requests.length, 2)
})

t.test('project and account tokens have their own routes and cache entries', async (t) => {
  const { broker, requests } = client()
  const project = await broker.projectToken('07ec9e38d4')
  live.secret(project.accessToken)
  t.equal(project.scope, 'Project')
  const admin = await live.callerJwt('admin-bff')
  const account = await createBrokerClient({ baseUrl: live.url, credential: () => admin }).accountToken()
  live.secret(account.accessToken)
  t.equal(account.scope, 'Account')
  t.same(requests, ['GET /tokens/project/07ec9e38d4'])
})

t.test('a 503 with Retry-After: 1 is waited out and retried, and succeeds', async (t) => {
  live.emulator.setFault('arm', { status: 503, retryAfterSeconds: 1, count: 1 })
  const { broker, requests } = client()
  const token = await broker.videoToken('retr1ed')
  live.secret(token.accessToken)
  t.equal(token.videoId, 'retr1ed')
  t.same(requests, ['GET /tokens/video/retr1ed', 'GET /tokens/video/retr1ed'])
})

t.test('503s beyond the attempts are thrown with the code and Retry-After', async (t) => {
  live.emulator.setFault('arm', { status: 503, retryAfterSeconds: 1, count: 5 })
  const { broker, requests } = client({ maxAttempts: 2 })
  const error = await refusal(broker.videoToken('exhaust3d'))
  t.match(error, { status: 503, code: 'ARM_UNAVAILABLE', retryAfterSeconds: 1 })
  t.type(error.requestId, 'string')
  t.equal(requests.length, 2)
})

t.test('a Retry-After over the cap is thrown at once, not waited out', async (t) => {
  live.emulator.setFault('arm', { status: 503, retryAfterSeconds: 30, count: 1 })
  const { broker, requests } = client({ maxRetryAfterSeconds: 10 })
  t.match(await refusal(broker.videoToken('c4pped')), { status: 503, retryAfterSeconds: 30 })
  t.equal(requests.length, 1)
})

t.test('a Retry-After that would outlast the deadline is thrown at once', async (t) => {
  live.emulator.setFault('arm', { status: 503, retryAfterSeconds: 1, count: 1 })
  const { broker, requests } = client({ timeoutMs: 900 })
  t.match(await refusal(broker.videoToken('d3adline')), { status: 503, code: 'ARM_UNAVAILABLE' })
  t.equal(requests.length, 1)
})

t.test('a broker that does not answer within the deadline is DEADLINE_EXCEEDED', async (t) => {
  live.emulator.setFault('arm', { hang: true, count: 1 })
  const { broker } = client({ timeoutMs: 300 })
  t.match(await refusal(broker.videoToken('h4ng')), { status: 0, code: 'DEADLINE_EXCEEDED' })
})

t.test('a 403 throws BrokerError POLICY_DENIED, and the failure is not cached', async (t) => {
  const stranger = await live.callerJwt('unlisted-bff')
  const { broker, requests } = client({ credential: () => stranger })
  const error = await refusal(broker.videoToken('07ec9e38d4'))
  t.match(error, { name: 'BrokerError', status: 403, code: 'POLICY_DENIED', retryAfterSeconds: undefined })
  await refusal(broker.videoToken('07ec9e38d4'))
  t.equal(requests.length, 2)
})

t.test('a 401 gets a new caller token once, and the retry succeeds', async (t) => {
  const asked: boolean[] = []
  const { broker, requests } = client({
    credential: ({ forceRefresh }) => {
      asked.push(forceRefresh)
      return forceRefresh ? portal : 'not-a-jwt'
    }
  })
  live.secret((await broker.videoToken('refr3sh')).accessToken)
  t.same(asked, [false, true])
  t.equal(requests.length, 2)
})

t.test('a second 401 is thrown: the new caller token is refused too', async (t) => {
  let asked = 0
  const { broker, requests } = client({ credential: async () => `not-a-jwt-${++asked}` })
  t.match(await refusal(broker.videoToken('refus3d')), { status: 401, code: 'AUTH_INVALID' })
  t.equal(asked, 2)
  t.equal(requests.length, 2)
})

t.test('a TokenCredential is asked with the scope, and its token kept until near its expiry', async (t) => {
  const scopes: Array<string | string[]> = []
  const credential = {
    async getToken (scope: string | string[]) {
      scopes.push(scope)
      return { token: portal, expiresOnTimestamp: Date.now() + 3_600_000 }
    }
  }
  const { broker } = client({ credential, scope: 'api://vi-token-broker/.default' })
  live.secret((await broker.videoToken('cred1')).accessToken)
  live.secret((await broker.videoToken('cred2')).accessToken)
  t.same(scopes, ['api://vi-token-broker/.default'])
})

t.test('a TokenCredential token near its expiry, or refused with 401, is fetched again', async (t) => {
  let asked = 0
  const credential = {
    async getToken () {
      asked++
      // The first is already within the margin; the second is refused by the broker; the third is good.
      if (asked === 1) return { token: portal, expiresOnTimestamp: Date.now() }
      return { token: asked === 2 ? 'not-a-jwt' : portal, expiresOnTimestamp: Date.now() + 3_600_000 }
    }
  }
  const { broker } = client({ credential, scope: 'api://vi-token-broker/.default' })
  live.secret((await broker.videoToken('n3ar1')).accessToken)
  live.secret((await broker.videoToken('n3ar2')).accessToken)
  t.equal(asked, 3)
})

t.test('a TokenCredential that fails or returns nothing is CREDENTIAL_UNAVAILABLE', async (t) => {
  const cause = new Error('no identity here')
  const failing = { getToken: async () => { throw cause } }
  const empty = { getToken: async () => null }
  const scope = 'api://vi-token-broker/.default'
  const failed = await refusal(client({ credential: failing, scope }).broker.videoToken('x'))
  t.match(failed, { status: 0, code: 'CREDENTIAL_UNAVAILABLE' })
  t.equal(failed.cause, cause)
  const nothing = await refusal(client({ credential: empty, scope }).broker.videoToken('x'))
  t.match(nothing, { code: 'CREDENTIAL_UNAVAILABLE' })
  t.throws(() => createBrokerClient({ baseUrl: live.url, credential: empty }), TypeError, 'needs scope')
})

t.test('ids and aliases are checked before any request, so none can change the path', async (t) => {
  const { broker, requests } = client()
  t.match(await refusal(broker.videoToken('../cache')), { status: 400, code: 'INVALID_ID' })
  t.match(await refusal(broker.projectToken('a/b')), { code: 'INVALID_ID' })
  t.match(await refusal(broker.accountToken({ account: 'EU_prod' })), { code: 'INVALID_ID' })
  t.same(requests, [])
})

t.test('an account alias goes into the path', async (t) => {
  const { broker, requests } = client()
  // The broker has no account of that alias.
  const error = await refusal(broker.videoToken('07ec9e38d4', { account: 'nowhere' }))
  t.match(error, { status: 404, code: 'UNKNOWN_ACCOUNT' })
  t.same(requests, ['GET /accounts/nowhere/tokens/video/07ec9e38d4'])
})

t.test('a broker that cannot be reached is BROKER_UNREACHABLE', async (t) => {
  // Port 9 (discard) on loopback: nothing listens there in a test machine.
  const broker = createBrokerClient({ baseUrl: 'http://127.0.0.1:9', credential: () => portal })
  t.match(await refusal(broker.videoToken('x')), { status: 0, code: 'BROKER_UNREACHABLE' })
})

t.test('clear() forgets every cached token', async (t) => {
  const { broker, requests } = client()
  live.secret((await broker.videoToken('cl3ar')).accessToken)
  broker.clear()
  live.secret((await broker.videoToken('cl3ar')).accessToken)
  t.equal(requests.length, 2)
})

t.test('embedUrl answers the widget URL the broker built, with its options, and keeps it', async (t) => {
  const { broker, requests } = client()
  const player = await broker.embedUrl('player', '07ec9e38d4', { t: 30, captions: 'en-US', autoplay: false })
  live.secret(new URL(player.url).searchParams.get('accessToken') ?? '')
  t.match(player, { videoId: '07ec9e38d4', url: /\/embed\/player\/[^/]+\/07ec9e38d4\/\?/ })
  t.equal(new URL(player.url).searchParams.get('t'), '30')
  const asked = requests.length
  const sameOptions = { autoplay: false, captions: 'en-US', t: 30, locale: undefined } as never
  t.same(await broker.embedUrl('player', '07ec9e38d4', sameOptions), player, 'in another order, one left undefined')
  t.equal(requests.length, asked, 'the second call made no request')
  t.match(requests.at(-1), 'GET /embed/player/07ec9e38d4?autoplay=false&captions=en-US&t=30')
  const insights = await broker.embedUrl('insights', '07ec9e38d4', { widgets: ['people', 'keywords'] })
  live.secret(new URL(insights.url).searchParams.get('accessToken') ?? '')
  t.match(insights.url, /\/embed\/insights\/.*widgets=people%2Ckeywords/)
})

t.test('an unknown widget option is refused by the broker, naming it', async (t) => {
  const { broker } = client()
  const error = await refusal(broker.embedUrl('player', '07ec9e38d4', { bogus: '1' } as never))
  t.match(error, { status: 400, code: 'INVALID_EMBED_OPTION', message: /bogus/ })
})

t.test('batch answers one result per request, in order, and keeps its tokens', async (t) => {
  const { broker, requests } = client()
  const { batchId, results } = await broker.batch([
    { scope: 'video', id: 'b4tch1' },
    { scope: 'project', id: 'not-allowed' },
    { scope: 'account' },
    { scope: 'video', id: 'b4tch2' }
  ])
  for (const result of results) if ('accessToken' in result) live.secret(result.accessToken)
  t.type(batchId, 'string')
  t.match(results, [
    { status: 200, scope: 'Video', videoId: 'b4tch1' },
    { status: 403, error: { code: 'POLICY_DENIED' } },
    { status: 403, error: { code: 'POLICY_DENIED' } },
    { status: 200, scope: 'Video', videoId: 'b4tch2' }
  ])
  const kept = await broker.videoToken('b4tch2')
  t.equal(kept.accessToken, (results[3] as { accessToken: string }).accessToken)
  t.same(requests, ['POST /tokens/batch'], 'the batch token was kept: no request for it')
})
