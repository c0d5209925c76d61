import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify'
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox'
import type {} from '@fastify/swagger'
import { Type } from 'typebox'
import type { ArmClient } from '../arm.js'
import { decisionFor, type Auditor } from '../audit.js'
import { brokerError } from '../errors.js'
import type { Policy } from '../policy.js'
import { ErrorResponse, IdParam, TokenResponse } from '../schemas.js'
import { ARM_SCOPE_NAMES, type Scope } from '../scope.js'
import type { CacheResult, TokenCache } from '../token-cache.js'

export interface TokenRoutesOptions {
  accountName: string
  policy: () => Policy
  tokenCache: TokenCache
  arm: ArmClient
  auditor: Auditor
}

const MAX_AUDITED_TEXT = 256
const ERROR_STATUSES = [400, 401, 403, 502, 503, 504] as const
const errorResponses = Object.fromEntries(ERROR_STATUSES.map((status) => [status, ErrorResponse]))

/** The token routes. Everything registered here is authenticated and audited. */
export default async function tokenRoutes(parent: FastifyInstance, options: TokenRoutesOptions) {
  const app = parent.withTypeProvider<TypeBoxTypeProvider>()
  const { accountName, policy, tokenCache, arm, auditor } = options

  app.decorateRequest('issued', null)
  app.addHook('onRequest', app.authenticate)
  app.addHook('onResponse', async (request, reply) => {
    const params = request.params as Record<string, string | undefined>
    const issued = request.issued
    auditor.write({
      reqId: request.id,
      caller: request.caller,
      scope: (request.routeOptions.config as { scope?: Scope }).scope ?? params.scope?.slice(0, MAX_AUDITED_TEXT) ?? null,
      resourceId: (params.videoId ?? params.projectId ?? params['*'])?.slice(0, MAX_AUDITED_TEXT) ?? null,
      account: accountName,
      decision: decisionFor(reply.statusCode),
      status: reply.statusCode,
      code: request.errorCode,
      cache: issued?.cache ?? null,
      tokenFingerprint: issued ? auditor.fingerprint(issued.token.accessToken) : null,
      tokenExpiresOn: issued ? new Date(issued.token.expiresAt).toISOString() : null,
      armRequestId: issued?.token.armRequestId ?? null,
      durationMs: Math.round(reply.elapsedTime * 100) / 100,
      clientIp: request.ip,
      userAgent: request.headers['user-agent']?.slice(0, MAX_AUDITED_TEXT) ?? null
    })
  })

  async function issue(request: FastifyRequest, reply: FastifyReply, scope: Scope, id: string | undefined) {
    if (!policy().isAllowed(request.caller as string, scope, id)) throw brokerError('POLICY_DENIED')
    const result = await tokenCache.get(`${accountName}/${scope}/${id ?? ''}`, () => arm.mint({ scope, id }))
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

  const response = { 200: TokenResponse, ...errorResponses }

  app.get(
    '/tokens/account',
    { config: { scope: 'account' }, schema: { tags: ['tokens'], summary: 'Get an Account-scope token', response } },
    (request, reply) => issue(request, reply, 'account', undefined)
  )
  app.get(
    '/tokens/project/:projectId',
    {
      config: { scope: 'project' },
      schema: { tags: ['tokens'], summary: 'Get a Project-scope token', params: Type.Object({ projectId: IdParam }), response }
    },
    (request, reply) => issue(request, reply, 'project', request.params.projectId)
  )
  app.get(
    '/tokens/video/:videoId',
    {
      config: { scope: 'video' },
      schema: { tags: ['tokens'], summary: 'Get a Video-scope token', params: Type.Object({ videoId: IdParam }), response }
    },
    (request, reply) => issue(request, reply, 'video', request.params.videoId)
  )

  // Near misses get a precise 400 rather than a bare 404. They are not part of the documented API.
  const hidden = { schema: { hide: true } }
  for (const scope of ['project', 'video'] as const) {
    app.get(`/tokens/${scope}`, { ...hidden, config: { scope } }, async () => {
      throw brokerError('MISSING_ID', { args: [scope] })
    })
  }
  app.get('/tokens/account/*', { ...hidden, config: { scope: 'account' } }, async () => {
    throw brokerError('UNEXPECTED_ID')
  })
  for (const path of ['/tokens/:scope', '/tokens/:scope/*']) {
    app.get(path, hidden, async () => {
      throw brokerError('UNKNOWN_SCOPE')
    })
  }
}

declare module 'fastify' {
  interface FastifyRequest {
    /** The token served, for the audit record. */
    issued: CacheResult | null
  }
}
