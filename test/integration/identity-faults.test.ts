// Identity endpoint faults through the real ManagedIdentityCredential: clear codes, no hang, recovery.
import t from 'tap'
import { build, emulatorFor } from '../helper.js'

const emulator = await emulatorFor(t)
// Before the broker starts: its startup Accounts_Get read would otherwise get (and cache) an identity token.
emulator.setFault('identity', { status: 500 })
const broker = await build(t, { emulator, env: { ARM_TIMEOUT_MS: '1500' } })
const baseUrl = await broker.app.listen({ port: 0, host: '127.0.0.1' })
const portal = await emulator.mintCallerToken('portal-bff')
broker.logs.secret(portal)

async function get (path: string) {
  const response = await fetch(baseUrl + path, { headers: { authorization: `Bearer ${portal}` } })
  const body = (await response.json()) as Record<string, any>
  broker.logs.secret(body.accessToken)
  return { status: response.status, retryAfter: response.headers.get('retry-after'), body }
}

t.test('a failing identity endpoint gives 503 IDENTITY_UNAVAILABLE and ARM is never called', async (t) => {
  const response = await get('/tokens/video/abc')
  t.equal(response.status, 503)
  t.equal(response.body.error.code, 'IDENTITY_UNAVAILABLE')
  t.ok(response.retryAfter)
  t.equal(emulator.counters().arm.total, 0)
})

t.test('a hanging identity endpoint is cut off at the deadline', async (t) => {
  emulator.setFault('identity', { hang: true })
  const response = await get('/tokens/video/abc')
  t.equal(response.status, 503)
  t.equal(response.body.error.code, 'IDENTITY_UNAVAILABLE')
})

t.test('the broker recovers when the identity endpoint comes back', async (t) => {
  emulator.setFault('identity', null)
  const response = await get('/tokens/video/abc')
  t.equal(response.status, 200)
  t.same(broker.logs.leaks(), [])
})
