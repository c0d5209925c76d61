import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify'
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox'
import type {} from '@fastify/swagger'
import rateLimit from '@fastify/rate-limit'
import underPressure from '@fastify/under-pressure'
import { Type, type TSchema } from 'typebox'
import type { Redis } from 'ioredis'
import type { MintedToken, MintRequest } from '../arm.js'
import { decisionFor, type AuditRecord, type Auditor } from '../audit.js'
import { brokerError } from '../errors.js'
import { errorBody } from '../plugins/error-handler.js'
import type { Metrics } from '../metrics.js'
import type { Policy } from '../policy.js'
import { errorResponse, IdParam, TokenResponse } from '../schemas.js'
import { ARM_SCOPE_NAMES, type Scope } from '../scope.js'
import type { CachedToken, CacheResult, TokenCache } from '../token-cache.js'

export interface TokenRoutesOptions {
  accountName: string
  policy: () => Policy
  tokenCache: TokenCache
  /** Mints through ARM, via the fleet's shared tier when there is one. */
  mint: (key: string, request: MintRequest) => Promise<MintedToken>
  /** With Redis, rate limits hold across the fleet. */
  rateLimitRedis: Redis | undefined
  auditor: Auditor
  metrics: Pick<Metrics, 'requests' | 'cache'>
  overload: { maxEventLoopDelayMs: number; maxEventLoopUtilization: number; sampleIntervalMs: number }
}

const MAX_AUDITED_TEXT = 256
const COMMON_RESPONSES = {
  200: TokenResponse,
  401: errorResponse(['AUTH_REQUIRED', 'AUTH_INVALID', 'AUTH_EXPIRED', 'AUTH_NO_CALLER'], 'No valid caller JWT'),
  403: errorResponse(['POLICY_DENIED'], 'The policy does not allow this caller this scope or id'),
  429: errorResponse(['RATE_LIMITED'], "Over this caller's rate limit from the policy; retry after Retry-After seconds"),
  502: errorResponse(['ARM_ERROR'], "ARM refused the request (4xx); ARM's error code is in details"),
  503: errorResponse(
    ['ARM_THROTTLED', 'ARM_UNAVAILABLE', 'IDENTITY_UNAVAILABLE', 'JWKS_UNAVAILABLE', 'AUDIT_UNAVAILABLE', 'OVERLOADED'],
    'ARM is throttling, failing or unreachable, or the broker cannot audit or is overloaded; retry after Retry-After seconds'
  ),
  504: errorResponse(['ARM_TIMEOUT'], 'ARM did not answer within the deadline')
}
const WITH_ID_RESPONSES = {
  ...COMMON_RESPONSES,
  400: errorResponse(['INVALID_ID'], 'The id does not match ^[A-Za-z0-9_-]{1,64}$; checked before the policy and ARM')
}
const security = [{ bearerAuth: [] }]

/** The token routes. Everything registered here is authenticated and audited. */
export default async function tokenRoutes(parent: FastifyInstance, options: TokenRoutesOptions) {
  const app = parent.withTypeProvider<TypeBoxTypeProvider>()
  const { accountName, policy, tokenCache, mint, auditor, metrics } = options

  app.decorateRequest('issued', null)
  // Shed load before doing work when the event loop is saturated; health checks are outside this scope.
  await app.register(underPressure, {
    maxEventLoopDelay: options.overload.maxEventLoopDelayMs,
    maxEventLoopUtilization: options.overload.maxEventLoopUtilization,
    eventLoopUtilizationMode: 'interval',
    sampleInterval: options.overload.sampleIntervalMs,
    pressureHandler: (_request, reply) => {
      reply.header('retry-after', '1')
      throw brokerError('OVERLOADED', { retryAfterSeconds: 1 })
    }
  })
  app.addHook('onRequest', app.authenticate)
  // After authentication, so each caller has its own budget from the policy and one cannot starve another.
  await app.register(rateLimit, {
    hook: 'preValidation',
    keyGenerator: (request) => `caller:${request.caller}`,
    max: (request) => policy().rateLimitFor(request.caller as string).max,
    timeWindow: (request) => policy().rateLimitFor(request.caller as string).timeWindowMs,
    errorResponseBuilder: (_request, context) => brokerError('RATE_LIMITED', { retryAfterSeconds: Math.ceil(context.ttl / 1000) }),
    ...(options.rateLimitRedis ? { redis: options.rateLimitRedis, nameSpace: 'vi-token-broker:rate:', skipOnError: true } : {})
  })
  // The record is written before the response leaves: if it cannot be written, no token is sent.
  app.addHook('onSend', async (request, reply, payload) => {
    const caller = request.caller === null ? 'anonymous' : policy().isKnown(request.caller) ? request.caller : 'unknown'
    const scope = (request.routeOptions.config as { scope?: Scope }).scope ?? 'invalid'
    metrics.requests.inc({ caller, scope, status: reply.statusCode })
    if (request.issued) metrics.cache.inc({ result: request.issued.cache })
    try {
      auditor.write(auditRecord(request, reply.statusCode, request.errorCode, reply.elapsedTime))
      return payload
    } catch (error) {
      const failure = brokerError('AUDIT_UNAVAILABLE', { retryAfterSeconds: 5, cause: error })
      request.log.error({ err: error, code: failure.code }, 'audit record could not be written; response withheld')
      reply.code(failure.statusCode).header('retry-after', String(failure.retryAfterSeconds))
      return JSON.stringify(errorBody(failure))
    }
  })

  // A hit serves the same cached token object many times: its fingerprint is worked out once.
  const fingerprints = new WeakMap<CachedToken, string>()
  function fingerprintOf(token: CachedToken): string {
    let fingerprint = fingerprints.get(token)
    if (fingerprint === undefined) fingerprints.set(token, (fingerprint = auditor.fingerprint(token.accessToken)))
    return fingerprint
  }

  function auditRecord(request: FastifyRequest, status: number, code: string | null, elapsedMs: number): AuditRecord {
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
      tokenFingerprint: issued ? fingerprintOf(issued.token) : null,
      tokenExpiresOn: issued ? new Date(issued.token.expiresAt).toISOString() : null,
      armRequestId: issued?.token.armRequestId ?? null,
      durationMs: Math.round(elapsedMs * 100) / 100,
      clientIp: request.ip,
      userAgent: clip(request.headers['user-agent'])
    }
  }

  async function issue(request: FastifyRequest, reply: FastifyReply, scope: Scope, id: string | undefined) {
    if (!policy().isAllowed(request.caller as string, scope, id)) throw brokerError('POLICY_DENIED')
    const key = `${accountName}/${scope}/${id ?? ''}`
    const result = await tokenCache.get(key, () => mint(key, { scope, id }))
    request.issued = result
    reply.header('cache-control', 'no-store').header('pragma', 'no-cache')
    return {
      accessToken: result.token.accessToken,
      scope: ARM_SCOPE_NAMES[scope],
      ...(scope === 'video' ? { videoId: id } : {}),
      ...(scope === 'project' ? { projectId: id } : {}),
      accountName,
      expiresOn: new Date(result.token.expiresAt).toISOString()
    }
  }

  app.get(
    '/tokens/account',
    {
      config: { scope: 'account' },
      schema: {
        tags: ['tokens'],
        summary: 'Get an Account-scope token',
        description: 'An Account-scope token can read every video in the account, so a policy grants it only where a rule names it.',
        security,
        response: COMMON_RESPONSES
      }
    },
    (request, reply) => issue(request, reply, 'account', undefined)
  )
  app.get(
    '/tokens/project/:projectId',
    {
      config: { scope: 'project' },
      schema: {
        tags: ['tokens'],
        summary: 'Get a Project-scope token',
        security,
        params: Type.Object({ projectId: IdParam }),
        response: WITH_ID_RESPONSES
      }
    },
    (request, reply) => issue(request, reply, 'project', request.params.projectId)
  )
  app.get(
    '/tokens/video/:videoId',
    {
      config: { scope: 'video' },
      schema: {
        tags: ['tokens'],
        summary: 'Get a Video-scope token',
        description: 'The token lets a player or insights widget show this one video.',
        security,
        params: Type.Object({ videoId: IdParam }),
        response: WITH_ID_RESPONSES
      }
    },
    (request, reply) => issue(request, reply, 'video', request.params.videoId)
  )

  // Operators who must stop handing out a token evict it; the next request mints a new one.
  const evictResponse = {
    200: Type.Object({ evicted: Type.Integer({ description: 'How many cached tokens were dropped' }) }, { description: 'Evicted' }),
    401: COMMON_RESPONSES[401],
    403: errorResponse(['ADMIN_REQUIRED'], 'The caller is not marked admin in the policy')
  }
  const evict = (request: FastifyRequest, key: string | undefined) => {
    if (!policy().isAdmin(request.caller as string)) throw brokerError('ADMIN_REQUIRED')
    return { evicted: tokenCache.evict(key) }
  }
  const evictSchema = (summary: string, params?: TSchema) => ({
    tags: ['cache'],
    summary,
    security,
    ...(params ? { params } : {}),
    response: params ? { ...evictResponse, 400: WITH_ID_RESPONSES[400] } : evictResponse
  })
  app.delete('/cache', { schema: evictSchema('Evict every cached token') }, async (request) => evict(request, undefined))
  app.delete('/cache/account', { config: { scope: 'account' }, schema: evictSchema('Evict the cached Account token') }, async (request) =>
    evict(request, `${accountName}/account/`)
  )
  app.delete(
    '/cache/project/:projectId',
    { config: { scope: 'project' }, schema: evictSchema('Evict a cached Project token', Type.Object({ projectId: IdParam })) },
    async (request) => evict(request, `${accountName}/project/${(request.params as { projectId: string }).projectId}`)
  )
  app.delete(
    '/cache/video/:videoId',
    { config: { scope: 'video' }, schema: evictSchema('Evict a cached Video token', Type.Object({ videoId: IdParam })) },
    async (request) => evict(request, `${accountName}/video/${(request.params as { videoId: string }).videoId}`)
  )

  // Near misses get a precise 400 rather than a bare 404. They are not part of the documented API.
  const hidden = { schema: { hide: true } }
  for (const scope of ['project', 'video'] as const) {
    app.get(`/tokens/${scope}`, { ...hidden, config: { scope } }, async () => {
      throw brokerError('MISSING_ID', { args: [scope] })
    })
  }
  for (const path of ['/tokens/:scope', '/tokens/:scope/*']) {
    app.get(path, hidden, async (request) => {
      const scope = (request.params as { scope: string }).scope.toLowerCase()
      if (scope === 'account') throw brokerError('UNEXPECTED_ID')
      // /tokens/video/a/b: the id cannot contain a slash.
      if (scope === 'video' || scope === 'project') throw brokerError('INVALID_ID')
      throw brokerError('UNKNOWN_SCOPE')
    })
  }
}

/** Caller-supplied text in an audit record is bounded, so no request can bloat the log. */
function clip(text: string | undefined): string | null {
  return text === undefined ? null : text.slice(0, MAX_AUDITED_TEXT)
}

declare module 'fastify' {
  interface FastifyRequest {
    /** The token served, for the audit record. */
    issued: CacheResult | null
  }
}
