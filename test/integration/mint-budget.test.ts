// Mint budgets across a fleet: two brokers (replicas) sharing one Redis and one emulator. A caller over
// its budget is refused new tokens and still served cached ones; other callers are unaffected.
import { randomBytes } from 'node:crypto'
import t from 'tap'
import { build, emulatorFor, type Built } from '../helper.js'
import { missingRedis, replicaRedis, startRedis } from '../support/redis-server.js'

if (!missingRedis(t)) await main()

async function main (): Promise<void> {
  const emulator = await emulatorFor(t)
  const redisServer = await startRedis(t)
  const policy = {
    callers: {
      'walker-bff': { allow: [{ scope: 'video' }], mintBudget: { max: 3, timeWindow: '1 hour' } },
      'portal-bff': { allow: [{ scope: 'video' }] }
    },
    roles: { 'Tokens.Video': { allow: [{ scope: 'video' }], mintBudget: { max: 1, timeWindow: '1 hour' } } }
  }
  const env = {
    REDIS_URL: redisServer.url,
    CACHE_ENCRYPTION_KEY: `k1:${randomBytes(32).toString('base64')}`,
    LOG_LEVEL: 'info',
    // The shared test machine is busy; load shedding is not under test here.
    OVERLOAD_TARGET_DELAY_MS: '0'
  }
  async function replica (): Promise<Built> {
    const redis = await replicaRedis(t, redisServer.url)
    return build(t, { emulator, env, redis, policy })
  }
  const [a, b] = [await replica(), await replica()] as [Built, Built]
  const walker = await emulator.mintCallerToken('walker-bff')
  const portal = await emulator.mintCallerToken('portal-bff')
  const get = (broker: Built, token: string, id: string) =>
    broker.request({ method: 'GET', url: `/tokens/video/${id}`, token })
  const armCalls = () => emulator.counters().arm.generateRestrictedViewerAccessToken
  const refusals = async (broker: Built) =>
    (await (await broker.app.metricsRegistry()).getSingleMetric('vi_broker_mint_budget_refusals_total')?.get())
      ?.values.reduce((sum, { value }) => sum + value, 0)

  t.test('the budget is counted across the fleet, in mints: cached tokens are served past it', async (t) => {
    t.equal((await get(a, walker, 'w1')).statusCode, 200)
    t.equal((await get(a, walker, 'w2')).statusCode, 200)
    // Joining a mint in flight, reading Redis, or another caller's token: none of these is a mint.
    const portalFirst = await get(a, portal, 'p1')
    t.equal(portalFirst.statusCode, 200)
    t.equal((await get(b, walker, 'p1')).statusCode, 200, "portal's token, from Redis, costs walker nothing")
    t.equal((await get(b, walker, 'w3')).statusCode, 200, 'the third mint, on the other replica')
    const calls = armCalls()
    const over = await get(a, walker, 'w4')
    t.equal(over.statusCode, 429, 'replica a knows what replica b spent')
    t.equal(over.json().error.code, 'MINT_BUDGET_EXCEEDED')
    t.ok(Number(over.headers['retry-after']) > 3500, 'Retry-After is the end of the hour window')
    t.equal((await get(b, walker, 'w5')).statusCode, 429)
    t.equal(armCalls(), calls, 'no ARM call for a refused request')
    for (const [broker, id] of [[a, 'w1'], [a, 'w3'], [b, 'w1'], [b, 'p1']] as const) {
      t.equal((await get(broker, walker, id)).statusCode, 200, `the cached ${id} is still served`)
    }
    t.equal(armCalls(), calls, 'from the caches')
    const audit = a.logs.audits.find((record) => record.caller === 'walker-bff' && record.status === 429)
    t.match(audit, { reason: 'mint_budget_exceeded', code: 'MINT_BUDGET_EXCEEDED' })
    t.equal(await refusals(a), 1)
  })

  t.test('other callers are unaffected', async (t) => {
    for (const id of ['p2', 'p3', 'p4', 'p5', 'w4']) t.equal((await get(b, portal, id)).statusCode, 200)
    t.equal((await get(a, walker, 'w4')).statusCode, 200, 'and walker is served w4 once portal has it')
  })

  t.test('concurrent callers on one mint: the caller that started it is charged', async (t) => {
    const roleOne = await emulator.mintCallerToken('role-one', { roles: ['Tokens.Video'] })
    const roleTwo = await emulator.mintCallerToken('role-two', { roles: ['Tokens.Video'] })
    const calls = armCalls()
    const [first, joined] = await Promise.all([get(a, roleOne, 'r1'), get(a, roleTwo, 'r1')])
    t.same([first.statusCode, joined.statusCode], [200, 200])
    t.equal(armCalls(), calls + 1, 'one mint')
    t.equal((await get(b, roleOne, 'r2')).statusCode, 429, 'role-one spent its role budget of 1')
    t.equal((await get(b, roleTwo, 'r2')).statusCode, 200, 'role-two, which joined, spent nothing')
  })

  t.test('a mint that fails is not charged', async (t) => {
    const roleThree = await emulator.mintCallerToken('role-three', { roles: ['Tokens.Video'] })
    emulator.setFault('arm', { status: 400, body: {}, count: 1 })
    t.equal((await get(a, roleThree, 'f1')).statusCode, 502)
    t.equal((await get(b, roleThree, 'f1')).statusCode, 200, 'its budget of 1 is still whole')
  })

  t.test('with Redis down, each replica counts on its own', async (t) => {
    await redisServer.kill()
    const roleFour = await emulator.mintCallerToken('role-four', { roles: ['Tokens.Video'] })
    const statuses = []
    for (const id of ['d1', 'd2', 'd3', 'd4']) statuses.push((await get(a, roleFour, id)).statusCode)
    // The first requests may each wait for a failing command before the circuit opens.
    t.same(statuses, [200, 429, 429, 429], 'the budget of 1 holds on replica a alone')
    t.ok(a.logs.records.some((record) => record.msg === 'redis failing: mint budgets per replica'))
  })
}
