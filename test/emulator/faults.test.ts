import t from 'tap'
import { InvalidFaultError, createFaults, parseFault } from '../../src/emulator/faults.js'
import type { Fault, FaultTarget } from '../../src/emulator/faults.js'
import { generateToken, managementToken, send, startTestEmulator } from './fixtures/helpers.js'

t.test('parseFault accepts valid faults and explains invalid ones', async (t) => {
  t.same(parseFault({ status: 503, retryAfterSeconds: 2, rate: 0.5, count: 3 }), {
    status: 503,
    retryAfterSeconds: 2,
    rate: 0.5,
    count: 3
  })
  t.same(parseFault({ status: 400, body: {} }), { status: 400, body: {} })
  t.same(parseFault({ latencyMs: 10 }), { latencyMs: 10 })
  t.same(parseFault({ hang: true, latencyMs: 5 }), { hang: true, latencyMs: 5 })
  const invalid: [unknown, RegExp][] = [
    [null, /JSON object/],
    [[], /JSON object/],
    ['500', /JSON object/],
    [{ status: 500, colour: 'red' }, /unknown fault property 'colour'/],
    [{ latencyMs: -1 }, /latencyMs/],
    [{ latencyMs: 'slow' }, /latencyMs/],
    [{ status: 99 }, /status/],
    [{ status: 500.5 }, /status/],
    [{ status: 429, retryAfterSeconds: 1.5 }, /retryAfterSeconds/],
    [{ status: 500, rate: 2 }, /rate/],
    [{ status: 500, count: 0 }, /count/],
    [{ hang: 'yes' }, /hang/],
    [{ reset: 1 }, /reset/],
    [{ hang: true, reset: true }, /exclude/],
    [{ status: 500, hang: true }, /exclude/],
    [{ body: {} }, /need status/],
    [{ retryAfterSeconds: 3 }, /need status/],
    [{}, /needs latencyMs, status, hang or reset/],
    [{ latencyMs: 0, count: 2 }, /needs latencyMs/],
    [{ hang: false }, /needs latencyMs/]
  ]
  for (const [value, message] of invalid) {
    t.throws(() => parseFault(value), { name: 'InvalidFaultError', message }, JSON.stringify(value))
  }
})

t.test('rate draws from the random source; count clears the fault', async (t) => {
  const draws = [0.1, 0.9, 0.2]
  const faults = createFaults(() => draws.shift() ?? 0)
  t.throws(() => faults.set('nope' as FaultTarget, { status: 500 }), InvalidFaultError)
  faults.set('arm', { status: 500, rate: 0.5, count: 2 })
  const applied: boolean[] = []
  const reply = { code: () => reply, send: () => reply, header: () => reply }
  const hook = faults.hook('arm')
  for (let i = 0; i < 4; i++) applied.push((await hook({} as never, reply as never)) !== undefined)
  t.same(applied, [true, false, true, false], 'applies on draws under the rate, twice, then never')
})

const emulator = await startTestEmulator(t)
const token = await managementToken(emulator)

function withFault (t: { teardown(fn: () => void): void }, target: FaultTarget, fault: Fault) {
  emulator.setFault(target, fault)
  t.teardown(() => emulator.setFault(target, null))
}

t.test('latency delays, then the request is handled normally', async (t) => {
  withFault(t, 'arm', { latencyMs: 300 })
  const started = Date.now()
  const answer = await generateToken(emulator, token)
  t.ok(Date.now() - started >= 290, 'waited for the latency')
  t.equal(answer.status, 200)
})

t.test('status answers in ARM error shape, before authentication', async (t) => {
  emulator.reset()
  withFault(t, 'arm', { status: 500 })
  const answer = await generateToken(emulator, 'no-token-needed')
  t.equal(answer.status, 500)
  t.same(answer.json(), { error: { code: 'InternalServerError', message: 'The emulator injected this fault.' } })
  t.match(answer.headers['x-ms-request-id'], /^[0-9a-f-]{36}$/)
  t.same(emulator.counters().arm.byStatus, { 500: 1 })
})

t.test('429 carries Retry-After', async (t) => {
  withFault(t, 'arm', { status: 429, retryAfterSeconds: 7 })
  const answer = await generateToken(emulator, token)
  t.equal(answer.status, 429)
  t.equal(answer.headers['retry-after'], '7')
  t.equal(answer.json().error.code, 'TooManyRequests')
})

t.test('a raw body replaces the error shape, like the official {} examples', async (t) => {
  withFault(t, 'arm', { status: 404, body: {} })
  const answer = await generateToken(emulator, token)
  t.equal(answer.status, 404)
  t.equal(answer.text, '{}')
})

t.test('count applies to the next N requests, then clears itself', async (t) => {
  withFault(t, 'arm', { status: 503, count: 2 })
  const statuses = []
  for (let i = 0; i < 3; i++) statuses.push((await generateToken(emulator, token)).status)
  t.same(statuses, [503, 503, 200])
})

t.test('rate 0 never applies', async (t) => {
  withFault(t, 'arm', { status: 503, rate: 0 })
  t.equal((await generateToken(emulator, token)).status, 200)
})

t.test('hang never answers; the client gives up by aborting', async (t) => {
  emulator.reset()
  withFault(t, 'arm', { hang: true })
  await t.rejects(generateToken(emulator, token, undefined, { signal: AbortSignal.timeout(300) }), {
    name: 'AbortError'
  })
  emulator.setFault('arm', null)
  t.equal((await generateToken(emulator, token)).status, 200, 'the emulator still answers others')
  t.match(emulator.counters().arm, { total: 2, byStatus: { 200: 1 } }, 'the hung request is counted, with no status')
})

t.test('reset destroys the socket without answering', async (t) => {
  withFault(t, 'arm', { reset: true })
  await t.rejects(generateToken(emulator, token), { code: 'ECONNRESET' })
})

t.test('identity and jwks faults apply to their own routes only', async (t) => {
  withFault(t, 'identity', { status: 503, retryAfterSeconds: 1 })
  withFault(t, 'jwks', { status: 500 })
  const identity = await send(
    `${emulator.identityEndpoint}?api-version=2019-08-01&resource=https://management.azure.com`,
    {
      headers: { 'x-identity-header': emulator.identityHeader }
    }
  )
  t.equal(identity.status, 503)
  t.equal(identity.headers['retry-after'], '1')
  const entra = await send(`${emulator.armEndpoint}/tenant/oauth2/v2.0/token`, {
    method: 'POST',
    ca: emulator.caCertPem
  })
  t.equal(entra.status, 503, 'the Entra token endpoint is an identity route')
  t.equal((await send(emulator.jwksUri)).status, 500)
  t.equal((await generateToken(emulator, token)).status, 200, 'ARM is unaffected')
})

t.test('close() ends hung and delayed requests', async (t) => {
  const closing = await startTestEmulator(t)
  const closingToken = await managementToken(closing)
  closing.setFault('arm', { hang: true })
  const hung = generateToken(closing, closingToken)
  closing.setFault('identity', { latencyMs: 60_000 })
  const delayed = send(`${closing.identityEndpoint}?api-version=2019-08-01&resource=x`, {
    headers: { 'x-identity-header': closing.identityHeader }
  })
  await new Promise((resolve) => setTimeout(resolve, 200))
  const started = Date.now()
  await closing.close()
  t.ok(Date.now() - started < 5000, 'close does not wait for them')
  await t.rejects(hung, { code: 'ECONNRESET' })
  await t.rejects(delayed, { code: 'ECONNRESET' })
})
