import type { HttpClient, TlsSettings } from '@azure/core-rest-pipeline'
import type { Redis } from 'ioredis'
import type { Logger } from 'pino'
import { createArmGate, isDeferredRefresh, type ArmGate } from './arm-gate.js'
import { createArmClient, type ArmClient, type PoolIdentity, type ArmObservations } from './arm.js'
import type { Clock } from './clock.js'
import type { Config } from './config.js'
import { isBrokerError } from './errors.js'
import { faultLog } from './logger.js'
import type { Metrics } from './metrics.js'
import { createMintBudget } from './mint-budget.js'
import { createSharedCache } from './shared-cache.js'
import { createTokenCache, type TokenCache } from './token-cache.js'
import type { Keyring } from './token-sealer.js'
import { createLocalThrottle } from './write-budget.js'
import { createFleetThrottle } from './fleet-throttle.js'
import type { Tracing } from './tracing.js'

export interface TokenPathOptions {
  config: Readonly<Config>
  /** The identity pool mints are spread over (see createIdentityPool). */
  identities: readonly PoolIdentity[]
  clock: Clock
  metrics: Metrics
  logger: Logger
  /** The audit's fingerprint of a token, kept with each cached token. */
  fingerprint(accessToken: string): { value: string; keyId: string }
  /** The shared tier's key ring in force (it follows CACHE_ENCRYPTION_KEY_FILE); set with config.redis. */
  keyring?: (() => Keyring) | undefined
  redis?: Redis | undefined
  /** The connection that listens for evictions; by default a duplicate of `redis`, closed with the path. */
  redisSubscriber?: Redis | undefined
  armHttpClient?: HttpClient | undefined
  armTls?: TlsSettings | undefined
  tracing?: Tracing | undefined
}

/**
 * Composes the token path once, each tier wrapping the next:
 * token cache (this process) → shared cache (the fleet's Redis, when configured) → ARM.
 */
export function createTokenPath (options: TokenPathOptions): {
  tokens: TokenCache
  armGate: ArmGate
  /** The last tier, also for reading accounts (Accounts_Get). */
  arm: ArmClient
  observed: ArmObservations
  close(): Promise<void>
} {
  const { config, clock, metrics, logger, redis } = options
  const local = createLocalThrottle({ bucket: config.arm.writeBucket, clock })
  // With Redis, every replica paces to one bucket per identity and honours every replica's 429.
  const fleet =
    redis && config.redis
      ? createFleetThrottle({
        redis,
        bucket: config.arm.writeBucket,
        local,
        clock,
        logger: logger.child({ component: 'fleet-throttle' })
      })
      : undefined
  const armGate = createArmGate({
    maxConcurrency: config.arm.maxConcurrency,
    local,
    shared: fleet,
    /* c8 ignore next: a failed update is logged only; the fleet-throttle test covers the fallback it leads to */
    onError: (error) => logger.warn({ err: error }, 'fleet throttle update failed')
  })
  const observed: ArmObservations = new Map()
  const arm = createArmClient({
    arm: config.arm,
    identities: options.identities,
    clock,
    gate: armGate,
    metrics,
    logger: logger.child({ component: 'arm' }),
    ...(options.armHttpClient ? { httpClient: options.armHttpClient } : {}),
    ...(options.armTls ? { tls: options.armTls } : {}),
    tracing: options.tracing,
    observed
  })
  // Just in front of ARM, so only a real mint is charged, to the caller whose request started it.
  const budgeted = createMintBudget({
    source: arm,
    redis: config.redis ? redis : undefined,
    clock,
    logger: logger.child({ component: 'mint-budget' }),
    metrics
  })
  const ownSubscriber = redis && options.keyring && !options.redisSubscriber ? redis.duplicate() : undefined
  const subscriber = options.redisSubscriber ?? ownSubscriber
  const shared =
    redis && subscriber && options.keyring
      ? createSharedCache({
        source: budgeted,
        redis,
        subscriber,
        keyring: options.keyring,
        clock,
        logger: logger.child({ component: 'shared-cache' }),
        metrics,
        minRemainingSeconds: config.cache.minRemainingSeconds,
        refreshAheadSeconds: config.cache.refreshAheadSeconds,
        lockMs: config.arm.timeoutMs
      })
      : undefined
  const tokens = createTokenCache({
    source: shared ?? budgeted,
    maxEntries: config.cache.maxEntries,
    minRemainingSeconds: config.cache.minRemainingSeconds,
    refreshAheadSeconds: config.cache.refreshAheadSeconds,
    clock,
    fingerprint: options.fingerprint,
    /* c8 ignore start: refresh failures are tested in test/token-cache.test.ts, which builds the cache directly */
    onRefreshError: (key, error) => {
      if (isDeferredRefresh(error)) return metrics.refreshDeferrals.inc()
      // Counted in vi_broker_mint_budget_refusals_total; the cached token is served until it is due.
      if (isBrokerError(error) && error.code === 'MINT_BUDGET_EXCEEDED') return
      metrics.refreshFailures.inc()
      const { level, fields } = faultLog(error)
      logger[level]({ ...fields, cacheKey: key }, 'background token refresh failed')
    }
    /* c8 ignore stop */
  })
  return { tokens, armGate, arm, observed, close: async () => ownSubscriber?.disconnect() }
}
