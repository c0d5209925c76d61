import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify'
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox'
import type {} from '@fastify/swagger'
import { Type } from 'typebox'
import { brokerError, type ErrorCode } from '../errors.js'
import {
  ALIAS_PARAM,
  BEARER_SECURITY,
  errorResponse,
  idParam,
  INVALID_ID_RESPONSE,
  tokenResponse,
  UNAUTHENTICATED_RESPONSE,
  UNKNOWN_ACCOUNT_RESPONSE
} from '../schemas.js'
import type { Scope } from '../scope.js'
import type { Issuer } from './issue.js'

/** The 503 codes of any route that mints. */
export const UNAVAILABLE_CODES: ErrorCode[] = [
  'ARM_THROTTLED',
  'ARM_UNAVAILABLE',
  'IDENTITY_UNAVAILABLE',
  'JWKS_UNAVAILABLE',
  'AUDIT_UNAVAILABLE',
  'OVERLOADED'
]

export const COMMON_RESPONSES = {
  401: UNAUTHENTICATED_RESPONSE,
  403: errorResponse(['POLICY_DENIED'], 'The policy does not allow this caller this scope, id or account'),
  429: errorResponse(
    ['RATE_LIMITED', 'MINT_BUDGET_EXCEEDED'],
    "Over this caller's rate limit, or (for a token not cached) its mint budget, from the policy; " +
      'retry after Retry-After seconds'
  ),
  502: errorResponse(['ARM_ERROR'], "ARM refused the request (4xx); ARM's error code is in details"),
  503: errorResponse(
    UNAVAILABLE_CODES,
    'ARM is throttling, failing or unreachable, or the broker cannot audit or is overloaded; ' +
      'retry after Retry-After seconds'
  ),
  504: errorResponse(['ARM_TIMEOUT'], 'ARM did not answer within the deadline')
}
const security = BEARER_SECURITY

/** The two places of every account-scoped route: the default account's, and each alias's. */
export const ACCOUNT_BASES = [
  { prefix: '', params: {}, responses: {}, of: 'the default account' },
  {
    prefix: '/accounts/:alias',
    params: { alias: ALIAS_PARAM },
    responses: { 404: UNKNOWN_ACCOUNT_RESPONSE },
    of: 'the account of this alias'
  }
] as const

/** The token routes, for the default account (/tokens/...) and for each alias (/accounts/{alias}/tokens/...). */
export default async function tokenRoutes (parent: FastifyInstance, options: { issuer: Issuer }) {
  const app = parent.withTypeProvider<TypeBoxTypeProvider>()
  const { issuer } = options

  async function issue (request: FastifyRequest, reply: FastifyReply, scope: Scope, id: string | undefined) {
    const json = await issuer.issueJson(request, scope, id)
    // JSON text with its type is sent as it is: the response schema documents the answer here.
    reply.header('cache-control', 'no-store').header('pragma', 'no-cache').type('application/json; charset=utf-8')
    return json
  }

  for (const base of ACCOUNT_BASES) {
    const responses = (scope: Scope) => ({
      ...COMMON_RESPONSES,
      ...(scope === 'account' ? {} : { 400: INVALID_ID_RESPONSE }),
      ...base.responses,
      200: tokenResponse(scope)
    })
    app.get(
      `${base.prefix}/tokens/account`,
      {
        config: { scope: 'account' },
        schema: {
          tags: ['tokens'],
          summary: `Get an Account-scope token of ${base.of}`,
          description:
            'An Account-scope token can read every video in the account, ' +
            'so a policy grants it only where a rule names it (and its alias, for an account other than the default).',
          security,
          ...(base.prefix ? { params: Type.Object(base.params) } : {}),
          response: responses('account')
        }
      },
      (request, reply) => issue(request, reply, 'account', undefined)
    )
    app.get(
      `${base.prefix}/tokens/project/:projectId`,
      {
        config: { scope: 'project' },
        schema: {
          tags: ['tokens'],
          summary: `Get a Project-scope token of ${base.of}`,
          security,
          params: Type.Object({ ...base.params, projectId: idParam('project') }),
          response: responses('project')
        }
      },
      (request, reply) => issue(request, reply, 'project', request.params.projectId)
    )
    app.get(
      `${base.prefix}/tokens/video/:videoId`,
      {
        config: { scope: 'video' },
        schema: {
          tags: ['tokens'],
          summary: `Get a Video-scope token of ${base.of}`,
          description:
            'The token lets a player or insights widget show this one video; once the account is read from ' +
            'Azure, the answer carries the widget URLs too.',
          security,
          params: Type.Object({ ...base.params, videoId: idParam('video') }),
          response: responses('video')
        }
      },
      (request, reply) => issue(request, reply, 'video', request.params.videoId)
    )

    // Near misses get a precise 400 rather than a bare 404. They are not part of the documented API.
    const hidden = { schema: { hide: true } }
    for (const scope of ['project', 'video'] as const) {
      app.get(`${base.prefix}/tokens/${scope}`, { ...hidden, config: { scope } }, async () => {
        throw brokerError('MISSING_ID', { args: [scope] })
      })
    }
    for (const path of [`${base.prefix}/tokens/:scope`, `${base.prefix}/tokens/:scope/*`]) {
      app.get(path, hidden, async (request) => {
        const scope = (request.params as { scope: string }).scope.toLowerCase()
        if (scope === 'account') throw brokerError('UNEXPECTED_ID')
        // /tokens/video/a/b: the id cannot contain a slash.
        if (scope === 'video' || scope === 'project') throw brokerError('INVALID_ID')
        throw brokerError('UNKNOWN_SCOPE')
      })
    }
  }
}
