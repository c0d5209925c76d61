// The broker with a pool of two user-assigned identities against the emulator's scaled-down ARM bucket,
// through the real ManagedIdentityCredential (one per client id) and core-rest-pipeline.
import t from 'tap'
import { build, emulatorFor } from '../helper.js'

// ARM's shape, scaled down: 4 writes per identity, back at 1 per second.
const emulator = await emulatorFor(t, { writeLimits: { capacity: 4, refillPerSecond: 1 } })
const broker = await build(t, {
  emulator,
  env: {
    AZURE_CLIENT_IDS: 'pool-a,pool-b',
    ARM_WRITE_BURST: '4',
    ARM_WRITES_PER_SECOND: '1',
    ARM_TIMEOUT_MS: '1500',
    OVERLOAD_TARGET_DELAY_MS: '0'
  }
})
const portal = await emulator.mintCallerToken('portal-bff')

const get = (path: string) => broker.request({ method: 'GET', url: path, token: portal })

t.test('eight new videos at once: each identity mints four from its own bucket, and ARM throttles none', async (t) => {
  const responses = await Promise.all(Array.from({ length: 8 }, (_, i) => get(`/tokens/video/pool${i}`)))
  t.same(
    responses.map((r) => r.statusCode),
    Array(8).fill(200)
  )
  // Eight mints, and the Accounts_Get the broker made at start (a read: no write bucket).
  t.same(emulator.counters().arm.byStatus, { 200: 9 }, 'one identity alone would have had to wait or be refused')
  t.equal(emulator.counters().arm.generateRestrictedViewerAccessToken, 8)
  t.equal(emulator.counters().identity, 2, 'one identity token per client id, each reused')
  const metrics = (await broker.app.inject({ method: 'GET', url: '/metrics' })).body
  t.match(metrics, /vi_broker_arm_mints_total\{identity="pool-a",status="200"\} 4/)
  t.match(metrics, /vi_broker_arm_mints_total\{identity="pool-b",status="200"\} 4/)
  t.match(metrics, /vi_broker_arm_remaining_writes\{identity="pool-a"\} 0/)
})

t.test('both buckets spent: new videos get 503 with Retry-After, cached ones are served', async (t) => {
  // Refills come at 1 per second per identity and a mint waits at most half its 1.5 s deadline.
  const responses = await Promise.all(Array.from({ length: 6 }, (_, i) => get(`/tokens/video/too-many${i}`)))
  const refused = responses.filter((r) => r.statusCode === 503)
  t.ok(refused.length >= 2, `${refused.length} of 6 refused`)
  t.same(
    responses.filter((r) => r.statusCode !== 503).map((r) => r.statusCode),
    Array(6 - refused.length).fill(200),
    'the rest waited for a refill'
  )
  t.match(refused[0]?.json(), { error: { code: 'ARM_THROTTLED', details: [{ code: 'WriteBudgetEmpty' }] } })
  t.ok(Number(refused[0]?.headers['retry-after']) >= 1)
  t.equal(emulator.counters().arm.byStatus[429], undefined, 'the broker paced itself to the bucket')
  t.equal((await get('/tokens/video/pool3')).statusCode, 200, 'a cached token needs no write')
})
