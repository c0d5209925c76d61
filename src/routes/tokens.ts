import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify'
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox'
import type {} from '@fastify/swagger'
import { Type } from 'typebox'
import { brokerError } from '../errors.js'
import type { Policy } from '../policy.js'
import {
  BEARER_SECURITY,
  errorResponse,
  idParam,
  INVALID_ID_RESPONSE,
  tokenResponse,
  UNAUTHENTICATED_RESPONSE
} from '../schemas.js'
import type { Scope } from '../scope.js'
import type { TokenCache } from '../token-cache.js'
import type { Account } from '../token-source.js'
import { tokenIssuer } from './token-issuer.js'

export interface TokenRoutesOptions {
  account: Account
  policy: () => Policy
  /** The first tier of the token path: the in-process cache, then the shared cache and ARM. */
  tokens: TokenCache
}

/** What a token request can be answered: shared with the items of a batch. */
export const COMMON_RESPONSES = {
  401: UNAUTHENTICATED_RESPONSE,
  403: errorResponse(['POLICY_DENIED'], 'The policy does not allow this caller this scope or id'),
  429: errorResponse(
    ['RATE_LIMITED', 'MINT_BUDGET_EXCEEDED'],
    "Over this caller's rate limit, or (for a token not cached) its mint budget, from the policy; " +
      'retry after Retry-After seconds'
  ),
  502: errorResponse(['ARM_ERROR'], "ARM refused the request (4xx); ARM's error code is in details"),
  503: errorResponse(
    ['ARM_THROTTLED', 'ARM_UNAVAILABLE', 'IDENTITY_UNAVAILABLE', 'JWKS_UNAVAILABLE', 'AUDIT_UNAVAILABLE', 'OVERLOADED'],
    'ARM is throttling, failing or unreachable, or the broker cannot audit or is overloaded; ' +
      'retry after Retry-After seconds'
  ),
  504: errorResponse(['ARM_TIMEOUT'], 'ARM did not answer within the deadline')
}
const WITH_ID_RESPONSES = { ...COMMON_RESPONSES, 400: INVALID_ID_RESPONSE }
const responses = (scope: Scope) => ({
  ...(scope === 'account' ? COMMON_RESPONSES : WITH_ID_RESPONSES),
  200: tokenResponse(scope)
})
const security = BEARER_SECURITY

/** The token routes: the policy decides, the cache (or ARM) answers. */
export default async function tokenRoutes (parent: FastifyInstance, options: TokenRoutesOptions) {
  const app = parent.withTypeProvider<TypeBoxTypeProvider>()
  const { account, policy, tokens } = options

  const issueToken = tokenIssuer({ policy, tokens })

  async function issue (request: FastifyRequest, reply: FastifyReply, scope: Scope, id: string | undefined) {
    const { result, body } = await issueToken(request, account, scope, id)
    request.issued = result
    reply.header('cache-control', 'no-store').header('pragma', 'no-cache')
    return body
  }

  app.get(
    '/tokens/account',
    {
      config: { scope: 'account' },
      schema: {
        tags: ['tokens'],
        summary: 'Get an Account-scope token',
        description:
          'An Account-scope token can read every video in the account, ' +
          'so a policy grants it only where a rule names it.',
        security,
        response: responses('account')
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
        params: Type.Object({ projectId: idParam('project') }),
        response: responses('project')
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
        params: Type.Object({ videoId: idParam('video') }),
        response: responses('video')
      }
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
