// POST /tokens/batch against the bundled emulator on real loopback sockets, with the real
// ManagedIdentityCredential and core-rest-pipeline: the ARM calls a batch makes are counted by the emulator.
import { decodeJwt } from 'jose'
import t from 'tap'
import { build, emulatorFor, type Built } from '../helper.js'

const ALLOWED = Array.from({ length: 39 }, (_, i) => `gallery-${String(i).padStart(2, '0')}`)
const emulator = await emulatorFor(t)
const broker: Built = await build(t, {
  emulator,
  env: { ARM_TIMEOUT_MS: '5000', ARM_MAX_RETRIES: '0' },
  policy: {
    callers: { 'portal-bff': { allow: [{ scope: 'video', ids: [...ALLOWED, 'd1', 'd2', 'f1', 'f2', 'f3'] }] } }
  }
})
const baseUrl = await broker.app.listen({ port: 0, host: '127.0.0.1' })
const portal = await emulator.mintCallerToken('portal-bff')
broker.logs.secret(portal)

interface Item { status: number; accessToken?: string; videoId?: string; error?: { code: string } }

async function batch (ids: string[]): Promise<{ status: number; batchId: string; results: Item[] }> {
  const response = await fetch(`${baseUrl}/tokens/batch`, {
    method: 'POST',
    headers: { authorization: `Bearer ${portal}`, 'content-type': 'application/json' },
    body: JSON.stringify({ requests: ids.map((id) => ({ scope: 'video', id })) })
  })
  const body = (await response.json()) as { batchId: string; results: Item[] }
  for (const item of body.results) broker.logs.secret(item.accessToken)
  return { status: response.status, ...body }
}
const mints = () => emulator.counters().arm.generateRestrictedViewerAccessToken

t.beforeEach(() => emulator.setFault('arm', null))

t.test('a gallery of 40 videos, 39 allowed: 39 tokens, one 403, 40 records of one batch, one ARM call per id',
  async (t) => {
    const before = mints()
    const denied = 'gallery-private'
    const { status, batchId, results } = await batch([...ALLOWED.slice(0, 20), denied, ...ALLOWED.slice(20)])
    t.equal(status, 200)
    t.equal(results.length, 40)
    t.same(results.map((r) => r.status), [...Array(20).fill(200), 403, ...Array(19).fill(200)])
    t.equal(results[20]?.error?.code, 'POLICY_DENIED')
    results.filter((r) => r.status === 200).forEach((r, i) => {
      t.equal(r.videoId, ALLOWED[i], `item ${i} in request order`)
      t.match(decodeJwt(r.accessToken as string), { Scope: 'Video', VideoId: ALLOWED[i] }, 'minted for that video')
    })
    t.equal(mints() - before, 39, 'one ARM call per distinct allowed id; none for the denied one')

    const records = broker.logs.audits.filter((a) => a.batchId === batchId)
    t.equal(records.length, 40, 'one audit record per item')
    t.same(records.map((r) => r.batchItem), Array.from({ length: 40 }, (_, i) => i))
    t.match(records[20], { resourceId: denied, status: 403, code: 'POLICY_DENIED', reason: 'id_not_listed' })
    t.equal(records.filter((r) => r.status === 200 && r.armRequestId !== null).length, 39, "each carries ARM's id")

    const again = await batch(ALLOWED.slice(0, 5))
    t.same(again.results.map((r) => r.accessToken), results.slice(0, 5).map((r) => r.accessToken), 'served from cache')
    t.equal(mints() - before, 39, 'no new ARM call')
  })

t.test('duplicates are minted once', async (t) => {
  const before = mints()
  const { results } = await batch(['d1', 'd1', 'd2', 'd1', 'd2'])
  t.same(results.map((r) => r.status), [200, 200, 200, 200, 200])
  t.equal(new Set(results.map((r) => r.accessToken)).size, 2)
  t.equal(mints() - before, 2, 'two distinct ids, two ARM calls')
})

t.test("an ARM fault fails only the items that reach ARM, each with its single route's status", async (t) => {
  emulator.setFault('arm', { status: 404, body: {} })
  const refused = await batch(['gallery-00', 'f1'])
  t.same(refused.results.map((r) => r.status), [200, 502], 'a cached token is still served')
  t.match(refused.results[1], { error: { code: 'ARM_ERROR', details: [{ code: 'HTTP404' }] } })

  emulator.setFault('arm', { hang: true })
  const hung = await batch(['gallery-00', 'f2', 'f3'])
  t.equal(hung.status, 200, 'the batch answers at the deadline its items share')
  t.same(hung.results.map((r) => [r.status, r.error?.code]), [
    [200, undefined],
    [504, 'ARM_TIMEOUT'],
    [504, 'ARM_TIMEOUT']
  ])
})

t.test('no log line holds a token', async (t) => {
  t.equal(broker.logs.leaks().length, 0)
})
