// Property-based fuzzing in Entra mode, against the emulator's tenant (as `npm run dev` runs the broker):
// arbitrary Authorization values, and tokens the tenant really signed whose claims are arbitrary JSON.
// Bounded: 300 runs per property.
import fc from 'fast-check'
import t from 'tap'
import { build, emulatorFor } from '../helper.js'
import { assertAuthorizationFuzz, errorCodeOf, NUM_RUNS, within } from './support/fuzz.js'
import { CATALOGUE, Tally } from './support/hostile.js'

const tally = new Tally()
const emulator = await emulatorFor(t)
const POLICY = {
  callers: { 'portal-bff': { allow: [{ scope: 'video' }] } },
  roles: { 'Tokens.Video': { allow: [{ scope: 'video' }] } }
}
const ANSWERS = new Set([
  '200 undefined',
  '403 POLICY_DENIED',
  '401 AUTH_INVALID',
  '401 AUTH_EXPIRED',
  '401 AUTH_NO_CALLER'
])

t.test('Entra mode: an arbitrary Authorization value always gets 401 AUTH_*, never a 500', async (t) => {
  const codes = await assertAuthorizationFuzz(t, await build(t, { emulator, policy: POLICY }), tally)
  t.comment(`outcomes: ${[...codes].map(([k, n]) => `${k} x${n}`).join(', ')}`)
})

t.test('Entra mode: a validly signed token with arbitrary claims is served, refused or denied, not 500', async (t) => {
  const { app, logs } = await build(t, { emulator, policy: POLICY })
  // Each claim is left as Entra sets it, or replaced by a near miss or by any JSON value at all.
  const near = {
    azp: fc.constantFrom('portal-bff', '', ' portal-bff', 'x'.repeat(257)),
    appid: fc.constantFrom('portal-bff', 'admin-bff'),
    sub: fc.constantFrom('portal-bff', ''),
    tid: fc.constantFrom(emulator.tenantId, emulator.tenantId.toUpperCase(), ''),
    aud: fc.constantFrom(emulator.brokerClientId, emulator.brokerApplicationIdUri, [emulator.brokerClientId], []),
    iss: fc.constantFrom(emulator.issuer, emulator.v1Issuer, `${emulator.issuer}/`),
    roles: fc.constantFrom(['Tokens.Video'], [], ['tokens.video'], 'Tokens.Video'),
    iat: fc.integer({ min: -1e10, max: 1e10 }),
    nbf: fc.integer({ min: -1e10, max: 1e10 }),
    exp: fc.oneof(fc.integer({ min: 0, max: 1e11 }), fc.double({ noNaN: true, noDefaultInfinity: true })),
    ver: fc.constantFrom('1.0', '2.0', 2)
  }
  // Up to three claims replaced per token, so that some tokens survive to be served or denied.
  const claims = fc
    .uniqueArray(fc.constantFrom(...(Object.keys(near) as Array<keyof typeof near>)), { maxLength: 3 })
    .chain((names) =>
      fc.record(
        Object.fromEntries(names.map((name) => [name, fc.oneof(near[name] as fc.Arbitrary<unknown>, fc.jsonValue())]))
      )
    )
  const outcomes = new Map<string, number>()
  await t.resolves(
    fc.assert(
      fc.asyncProperty(fc.constantFrom(1, 2) as fc.Arbitrary<1 | 2>, claims, async (version, overrides) => {
        const token = await emulator.mintCallerToken('portal-bff', { version, claims: overrides })
        logs.secret(token)
        const response = await within(
          app.inject({ url: '/tokens/video/abc123', headers: { authorization: `Bearer ${token}` } }),
          'claims fuzz'
        )
        logs.secret((JSON.parse(response.body) as { accessToken?: string }).accessToken)
        tally.see(`claims ${JSON.stringify(overrides).slice(0, 80)}`, response.statusCode)
        const code = errorCodeOf(response.body)
        const outcome = `${response.statusCode} ${code}`
        outcomes.set(outcome, (outcomes.get(outcome) ?? 0) + 1)
        if (!ANSWERS.has(outcome) || (code !== undefined && !CATALOGUE.has(code))) {
          throw new Error(`v${version} ${JSON.stringify(overrides).slice(0, 200)}: got ${outcome}`)
        }
        if (logs.raw.some((line) => line.includes(token))) throw new Error('a caller token reached a log line')
      }),
      { numRuns: NUM_RUNS }
    )
  )
  t.comment(`outcomes: ${[...outcomes].map(([k, n]) => `${k} x${n}`).join(', ')}`)
  t.ok((outcomes.get('200 undefined') ?? 0) > 0, 'some tokens were served')
  t.ok((outcomes.get('401 AUTH_INVALID') ?? 0) > 0, 'some were refused')
})

tally.closingTest(t)
