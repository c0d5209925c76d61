import { throttleKey, type ArmGate } from './arm-gate.js'
import type { ArmObservations } from './arm.js'
import type { JwksState } from './auth.js'
import type { Clock } from './clock.js'
import type { Metrics } from './metrics.js'
import type { PolicyStore } from './policy-store.js'
import type { TokenCache } from './token-cache.js'
import type { AccountMetadataStore } from './account-metadata.js'
import type { Account } from './token-source.js'

/** Where each part of GET /status comes from. Nothing here holds a secret or a token. */
export interface StatusSources {
  version: string
  clock: Clock
  startedAt: number
  /** The default account's subscription: holds are per identity and subscription. */
  subscriptionId: string
  /** The accounts served, and what Accounts_Get told of each. */
  accounts: readonly Account[]
  metadata: AccountMetadataStore
  /** Per identity of the pool (its client id, or "default"). */
  observed: ArmObservations
  armGate: ArmGate
  policy: PolicyStore
  /** Set in JWKS mode: jose's cache of the key set. */
  jwks: JwksState | undefined
  tokens: TokenCache
  metrics: Pick<Metrics, 'cache' | 'redisCircuit'>
  redisConfigured: boolean
}

const iso = (ms: number) => new Date(ms).toISOString()
const seconds = (ms: number) => Math.round(ms / 100) / 10

/** The operator's view of the broker now: GET /status. */
export async function statusReport (sources: StatusSources) {
  const { clock, observed, armGate, policy, jwks, tokens, metrics } = sources
  const now = clock.now()
  const gate = armGate.stats()
  const served = new Map((await metrics.cache.get()).values.map((v) => [String(v.labels.result), v.value]))
  const total = [...served.values()].reduce((sum, n) => sum + n, 0)
  const fromCache = (served.get('hit') ?? 0) + (served.get('refresh') ?? 0)
  const circuitOpen = (await metrics.redisCircuit.get()).values[0]?.value === 1
  const keySet = jwks && 'jwks' in jwks ? jwks : undefined
  return {
    version: sources.version,
    startedAt: iso(sources.startedAt),
    uptimeSeconds: seconds(now - sources.startedAt),
    identities: [...observed].map(([id, seen]) => ({
      id,
      armToken: seen.identityToken
        ? { ageSeconds: seconds(now - seen.identityToken.obtainedAt), expiresOn: iso(seen.identityToken.expiresAt) }
        : null,
      lastArmAnswer: seen.lastAnswer ? { status: seen.lastAnswer.status, at: iso(seen.lastAnswer.at) } : null,
      remainingWrites: seen.remainingWrites ?? null,
      throttleHoldSeconds: seconds(armGate.holdRemainingMs([throttleKey(id, sources.subscriptionId)]))
    })),
    armCallsInFlight: gate.inFlight,
    redis: {
      configured: sources.redisConfigured,
      circuit: sources.redisConfigured ? (circuitOpen ? 'open' : 'closed') : null
    },
    policy: {
      hash: policy.current().hash,
      loadedAt: iso(policy.loadedAt()),
      callers: policy.current().callerCount
    },
    jwks: jwks === undefined
      ? null
      : {
          ageSeconds: keySet ? seconds(now - keySet.uat) : null,
          keyIds: keySet ? keySet.jwks.keys.map((key) => key.kid ?? null) : []
        },
    accounts: sources.metadata.status(sources.accounts),
    cache: { entries: tokens.size, served: total, hitRatio: total === 0 ? null : fromCache / total }
  }
}
