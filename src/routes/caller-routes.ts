import type { FastifyInstance, FastifyRequest } from 'fastify'
import rateLimit from '@fastify/rate-limit'
import type { Redis } from 'ioredis'
import { decisionFor, type AuditRecord, type Auditor } from '../audit.js'
import { brokerError, errorBody } from '../errors.js'
import type { Metrics } from '../metrics.js'
import loadShedding, { type LoadSheddingOptions } from '../plugins/load-shedding.js'
import type { Policy } from '../policy.js'
import type { Scope } from '../scope.js'
import type { CacheResult, TokenCache } from '../token-cache.js'
import cacheRoutes from './cache.js'
import tokenRoutes, { type TokenRoutesOptions } from './tokens.js'

export interface CallerRoutesOptions {
  accountName: string
  policy: () => Policy
  tokenCache: TokenCache
  mint: TokenRoutesOptions['mint']
  /** With Redis, rate limits hold across the fleet. */
  rateLimitRedis: Redis | undefined
  auditor: Auditor
  metrics: Pick<Metrics, 'requests' | 'cache'>
  overload: LoadSheddingOptions
}

const MAX_AUDITED_TEXT = 256

/**
 * Everything a caller reaches with its JWT: the token and cache routes. Each request here is shed
 * under overload, authenticated, rate limited per caller, counted and audited.
 */
export default async function callerRoutes (app: FastifyInstance, options: CallerRoutesOptions) {
  const { accountName, policy, auditor, metrics } = options

  app.decorateRequest('issued', null)
  // Shed load before doing work when the event loop is saturated; health checks are outside this scope.
  await app.register(loadShedding, options.overload)
  app.addHook('onRequest', app.authenticate)
  // After authentication, so each caller has its own budget from the policy and one cannot starve another.
  await app.register(rateLimit, {
    hook: 'preValidation',
    keyGenerator: (request) => `caller:${request.caller}`,
    max: (request) => policy().rateLimitFor(request.caller as string).max,
    timeWindow: (request) => policy().rateLimitFor(request.caller as string).timeWindowMs,
    errorResponseBuilder: (_request, context) =>
      brokerError('RATE_LIMITED', { retryAfterSeconds: Math.ceil(context.ttl / 1000) }),
    ...(options.rateLimitRedis
      ? { redis: options.rateLimitRedis, nameSpace: 'vi-token-broker:rate:', skipOnError: true }
      : {})
  })
  // The record is written before the response leaves: if it cannot be written, no token is sent.
  app.addHook('onSend', async (request, reply, payload) => {
    const caller = request.caller === null ? 'anonymous' : policy().isKnown(request.caller) ? request.caller : 'unknown'
    const scope = (request.routeOptions.config as { scope?: Scope }).scope ?? 'invalid'
    metrics.requests.inc({ caller, scope, status: reply.statusCode })
    if (request.issued) metrics.cache.inc({ result: request.issued.cache })
    try {
      await auditor.write(auditRecord(request, reply.statusCode, request.errorCode, reply.elapsedTime))
      return payload
    } catch (error) {
      const failure = brokerError('AUDIT_UNAVAILABLE', { retryAfterSeconds: 5, cause: error })
      request.log.error({ err: error, code: failure.code }, 'audit record could not be written; response withheld')
      reply.code(failure.statusCode).header('retry-after', String(failure.retryAfterSeconds))
      return JSON.stringify(errorBody(failure))
    }
  })

  function auditRecord (request: FastifyRequest, status: number, code: string | null, elapsedMs: number): AuditRecord {
    const params = request.params as Record<string, string | undefined>
    const issued = request.issued
    return {
      reqId: request.id,
      action: request.method === 'DELETE' ? 'evict' : 'issue',
      caller: request.caller,
      scope: (request.routeOptions.config as { scope?: Scope }).scope ?? clip(params.scope),
      resourceId: clip(params.videoId ?? params.projectId ?? params['*']),
      account: accountName,
      decision: decisionFor(status),
      status,
      code,
      cache: issued?.cache ?? null,
      tokenFingerprint: issued?.token.fingerprint ?? null,
      tokenExpiresOn: issued ? new Date(issued.token.expiresAt).toISOString() : null,
      armRequestId: issued?.token.armRequestId ?? null,
      durationMs: Math.round(elapsedMs * 100) / 100,
      clientIp: request.ip,
      userAgent: clip(request.headers['user-agent'])
    }
  }

  await app.register(tokenRoutes, { accountName, policy, tokenCache: options.tokenCache, mint: options.mint })
  await app.register(cacheRoutes, { policy, tokenCache: options.tokenCache })
}

/** Caller-supplied text in an audit record is bounded, so no request can bloat the log. */
function clip (text: string | undefined): string | null {
  return text === undefined ? null : text.slice(0, MAX_AUDITED_TEXT)
}

declare module 'fastify' {
  interface FastifyRequest {
    /** The token served, for the audit record. */
    issued: CacheResult | null
  }
}
