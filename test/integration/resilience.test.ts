// ARM and JWKS faults through the emulator, over real sockets: cached tokens keep flowing, one 429
// pauses all minting, concurrency is bounded, and a slow JWKS gives bounded answers.
import { decodeJwt } from 'jose'
import t from 'tap'
import { build, emulatorFor, type Built } from '../helper.js'
import { fakeClock } from '../support/fake-clock.js'

const clock = fakeClock(Date.now())
const emulator = await emulatorFor(t, { now: clock.now })
// Minted before the fake clock moves: the broker checks caller tokens against the real clock.
const portal = await emulator.mintCallerToken('portal-bff', { expiresInSeconds: 7200 })

// These tests fire load on purpose: a rate limit high enough not to be what they measure.
const LOAD_POLICY = {
  rateLimit: { max: 100_000, timeWindow: '1 minute' },
  callers: { 'portal-bff': { allow: [{ scope: 'video' }] } }
}

async function start (
  env: Record<string, string> = {}
): Promise<Built & { get: (path: string, token: string) => Promise<Answer> }> {
  const broker = await build(t, { emulator, clock, policy: LOAD_POLICY, env: { ARM_TIMEOUT_MS: '2000', ...env } })
  const baseUrl = await broker.app.listen({ port: 0, host: '127.0.0.1' })
  const get = async (path: string, token: string): Promise<Answer> => {
    broker.logs.secret(token)
    const response = await fetch(baseUrl + path, {
      headers: { authorization: `Bearer ${token}` },
      signal: AbortSignal.timeout(10_000)
    })
    const body = (await response.json()) as Record<string, any>
    broker.logs.secret(body.accessToken)
    return { status: response.status, retryAfter: response.headers.get('retry-after'), body }
  }
  return { ...broker, get }
}
interface Answer {
  status: number
  retryAfter: string | null
  body: Record<string, any>
}

t.test(
  'with ARM failing 100%, a cached token is served until it nears the minimum life, then 503 with Retry-After',
  async (t) => {
    const broker = await start()
    const first = await broker.get('/tokens/video/cached1', portal)
    t.equal(first.status, 200)
    const exp = decodeJwt(first.body.accessToken).exp as number
    emulator.setFault('arm', { status: 503 })
    // From inside the refresh-ahead window to 1 s before the limit: the same token every time.
    for (const secondsLeft of [1000, 900, 600, 450, 301]) {
      clock.advance(exp * 1000 - secondsLeft * 1000 - clock.now())
      const response = await broker.get('/tokens/video/cached1', portal)
      t.equal(response.status, 200, `${secondsLeft} s left: still served`)
      t.equal(response.body.accessToken, first.body.accessToken)
      t.ok(
        (decodeJwt(response.body.accessToken).exp as number) - clock.now() / 1000 >= 300,
        'never less than the minimum life'
      )
    }
    clock.advance(exp * 1000 - 300_000 - clock.now())
    const expired = await broker.get('/tokens/video/cached1', portal)
    t.equal(expired.status, 503)
    t.equal(expired.body.error.code, 'ARM_UNAVAILABLE')
    t.ok(Number(expired.retryAfter) > 0)
    t.notOk(expired.body.accessToken)
    t.ok(
      broker.logs.audits.some((a) => a.cache === 'refresh'),
      'refresh-ahead kept trying in the background'
    )
    emulator.setFault('arm', null)
  }
)

t.test('after one 429 with Retry-After: 5, ARM sees no call for 5 s, whatever the load', async (t) => {
  const broker = await start({ ARM_RETRY_AFTER_CAP_SECONDS: '0' })
  await broker.get('/tokens/video/warmup', portal)
  emulator.setFault('arm', { status: 429, retryAfterSeconds: 5, count: 1 })
  const before = emulator.counters().arm.generateRestrictedViewerAccessToken
  const heldAt = Date.now()
  const throttled = await broker.get('/tokens/video/held0', portal)
  t.equal(throttled.status, 503)
  t.equal(throttled.retryAfter, '5')
  let sent = 0
  while (Date.now() - heldAt < 4_500) {
    const batch = await Promise.all(Array.from({ length: 20 }, () => broker.get(`/tokens/video/held${++sent}`, portal)))
    t.ok(
      batch.every((r) => r.status === 503 && r.body.error.code === 'ARM_THROTTLED' && Number(r.retryAfter) <= 5),
      'held back with 503'
    )
    await new Promise((resolve) => setTimeout(resolve, 100))
  }
  t.equal(
    emulator.counters().arm.generateRestrictedViewerAccessToken - before,
    1,
    `only the throttled call reached ARM during the hold (${sent} requests)`
  )
  await new Promise((resolve) => setTimeout(resolve, Math.max(0, heldAt + 5_100 - Date.now())))
  // The hold runs on the broker's clock, which this file drives: let it see the time that passed.
  clock.advance(Date.now() - heldAt)
  t.equal((await broker.get('/tokens/video/after-hold', portal)).status, 200, 'minting resumes after the hold')
})

t.test('at most ARM_MAX_CONCURRENCY ARM calls are in flight; the others queue and succeed', async (t) => {
  const broker = await start({ ARM_MAX_CONCURRENCY: '2' })
  emulator.setFault('arm', { latencyMs: 150 })
  let maxInFlight = 0
  const state = { sampling: true }
  const sampler = (async () => {
    while (state.sampling) {
      const text = await (await broker.app.metricsRegistry()).metrics()
      maxInFlight = Math.max(maxInFlight, Number(/vi_broker_arm_in_flight (\d+)/.exec(text)?.[1] ?? 0))
      await new Promise((resolve) => setTimeout(resolve, 10))
    }
  })()
  const responses = await Promise.all(
    Array.from({ length: 6 }, (_, i) => broker.get(`/tokens/video/parallel${i}`, portal))
  )
  state.sampling = false
  await sampler
  emulator.setFault('arm', null)
  t.same(
    responses.map((r) => r.status),
    [200, 200, 200, 200, 200, 200]
  )
  t.equal(maxInFlight, 2)
})

t.test('a hanging or failing JWKS gives a bounded 503 JWKS_UNAVAILABLE, and recovers', async (t) => {
  const broker = await start({ AUTH_JWKS_TIMEOUT_MS: '300', AUTH_JWKS_COOLDOWN_MS: '0' })
  emulator.setFault('jwks', { hang: true })
  const hung = await broker.get('/tokens/video/jwks1', portal)
  t.equal(hung.status, 503)
  t.equal(hung.body.error.code, 'JWKS_UNAVAILABLE')
  t.ok(hung.retryAfter)
  emulator.setFault('jwks', { status: 500 })
  t.equal((await broker.get('/tokens/video/jwks1', portal)).body.error.code, 'JWKS_UNAVAILABLE')
  emulator.setFault('jwks', null)
  t.equal((await broker.get('/tokens/video/jwks1', portal)).status, 200)
})
