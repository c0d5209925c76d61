import type { FastifyInstance } from 'fastify'
import rateLimit from '@fastify/rate-limit'
import type { Redis } from 'ioredis'
import type { Auditor } from '../audit.js'
import type { Clock } from '../clock.js'
import { callerOf } from '../caller.js'
import { brokerError } from '../errors.js'
import { expectedFault } from '../logger.js'
import type { Metrics } from '../metrics.js'
import auditTrail from '../plugins/audit-trail.js'
import loadShedding, { type LoadSheddingOptions } from '../plugins/load-shedding.js'
import type { Policy } from '../policy.js'
import { redisWithLocalFallback } from '../rate-limit-store.js'
import type { TokenCache } from '../token-cache.js'
import type { Tracing } from '../tracing.js'
import batchRoutes from './batch.js'
import type { AccountMetadataStore } from '../account-metadata.js'
import type { Accounts } from '../accounts.js'
import cacheRoutes from './cache.js'
import embedRoutes from './embed.js'
import { createIssuer } from './issue.js'
import operationsRoutes, { type OperationsRoutesOptions } from './operations.js'
import tokenRoutes from './tokens.js'

export interface CallerRoutesOptions {
  accounts: () => Accounts
  /** Each account's id and location, once read. */
  metadata: AccountMetadataStore
  /** VI_WEB_BASE_URL, for embed URLs. */
  webBaseUrl: string
  policy: () => Policy
  /** The first tier of the token path. */
  tokens: TokenCache
  /** With Redis, rate limits hold across the fleet (and each replica's own while Redis is down). */
  rateLimitRedis: Redis | undefined
  auditor: Auditor
  metrics: Pick<Metrics, 'requests' | 'evictions' | 'cache' | 'servedTokenLife'>
  overload: LoadSheddingOptions
  clock: Clock
  tracing: Tracing | undefined
  /** BATCH_MAX_ITEMS. */
  batchMaxItems: number
  /** GET /status's body, built when asked. */
  status: OperationsRoutesOptions['status']
}

/**
 * Everything a caller reaches with its JWT: the token and cache routes. Each request here is shed
 * under overload, authenticated, rate limited per caller, counted and audited.
 */
export default async function callerRoutes (app: FastifyInstance, options: CallerRoutesOptions) {
  const { accounts, policy, tokens } = options

  await app.register(auditTrail, {
    auditor: options.auditor,
    accounts,
    policy,
    metrics: options.metrics,
    clock: options.clock,
    tracing: options.tracing
  })
  app.addHook('onRequest', app.authenticate)
  // Shed while requests wait too long, before any other work; health checks are outside this scope. After
  // authentication, which for a caller's repeat JWT is one lookup: a shed caller keeps its connection (a
  // client refused before it is authenticated loses it, and reconnecting costs an overloaded broker more
  // than the answer did), and its record names it.
  await app.register(loadShedding, options.overload)
  // After authentication, so each caller has its own budget from the policy and one cannot starve another.
  await app.register(rateLimit, {
    hook: 'preValidation',
    keyGenerator: (request) => `caller:${callerOf(request)}`,
    max: (request) => policy().rateLimitFor(callerOf(request)).max,
    timeWindow: (request) => policy().rateLimitFor(callerOf(request)).timeWindowMs,
    errorResponseBuilder: (_request, context) =>
      brokerError('RATE_LIMITED', { retryAfterSeconds: Math.ceil(context.ttl / 1000) }),
    // Not skipOnError: that would let every request through while Redis is down.
    ...(options.rateLimitRedis
      ? {
          store: redisWithLocalFallback(options.rateLimitRedis, 'vi-token-broker:rate:', (error) =>
            app.log.debug({ err: expectedFault(error) }, 'redis did not answer: rate limit counted in this replica'))
        }
      : {})
  })

  const issuer = createIssuer({ accounts, policy, tokens, metadata: options.metadata, webBaseUrl: options.webBaseUrl })
  await app.register(tokenRoutes, { issuer })
  await app.register(embedRoutes, { issuer, webBaseUrl: options.webBaseUrl })
  await app.register(batchRoutes, { issuer, maxItems: options.batchMaxItems })
  await app.register(cacheRoutes, { accounts, policy, tokens })
  await app.register(operationsRoutes, { accounts, policy, status: options.status })
}
