// The status report before anything has happened, in HS256 mode without Redis, and with the circuit open.
import { pino } from 'pino'
import t from 'tap'
import type { ArmGate } from '../src/arm-gate.js'
import { createMetrics } from '../src/metrics.js'
import { createPolicy } from '../src/policy.js'
import { createPolicyStore } from '../src/policy-store.js'
import { statusReport, type StatusSources } from '../src/status.js'
import type { TokenCache } from '../src/token-cache.js'
import { fakeClock } from './support/fake-clock.js'
import { createAccountMetadata } from '../src/account-metadata.js'

function sources (overrides: Partial<StatusSources> = {}): StatusSources {
  const clock = fakeClock()
  const policy = createPolicyStore({
    file: 'unused.json',
    initial: createPolicy({ callers: {} }),
    logger: pino({ level: 'silent' }),
    clock
  })
  return {
    version: '1.2.3',
    clock,
    startedAt: clock.now() - 90_000,
    subscriptionId: 'b04775c3-63fa-40f3-9430-139d2e5522d3',
    observed: new Map([['default', {}]]),
    armGate: { holdRemainingMs: () => 0, stats: () => ({ inFlight: 0, queued: 0 }) } as unknown as ArmGate,
    policy,
    jwks: undefined,
    tokens: { size: 0 } as TokenCache,
    metrics: createMetrics(),
    redisConfigured: false,
    accounts: [],
    metadata: createAccountMetadata({
      read: async () => ({ accountId: '', location: '' }),
      clock,
      refreshMs: 1000,
      logger: pino({ level: 'silent' }),
      onRead: () => {}
    }),
    ...overrides
  }
}

t.test('before the first request: nulls, not zeros that look like facts', async (t) => {
  t.match(await statusReport(sources()), {
    version: '1.2.3',
    uptimeSeconds: 90,
    identities: [{ id: 'default', armToken: null, lastArmAnswer: null, remainingWrites: null, throttleHoldSeconds: 0 }],
    armCallsInFlight: 0,
    redis: { configured: false, circuit: null },
    jwks: null,
    cache: { entries: 0, served: 0, hitRatio: null }
  })
})

t.test('JWKS mode before the first fetch, and an open Redis circuit', async (t) => {
  const metrics = createMetrics()
  metrics.redisCircuit.set(1)
  const report = await statusReport(sources({ jwks: {}, metrics, redisConfigured: true }))
  t.same(report.jwks, { ageSeconds: null, keyIds: [] })
  t.same(report.redis, { configured: true, circuit: 'open' })
})

t.test('the key set: its age since its last fetch, and each key id (null for a key without one)', async (t) => {
  const base = sources()
  const jwks = { jwks: { keys: [{ kty: 'RSA', kid: 'key-1' }, { kty: 'RSA' }] }, uat: base.clock.now() - 12_300 }
  t.same((await statusReport({ ...base, jwks })).jwks, { ageSeconds: 12.3, keyIds: ['key-1', null] })
})
