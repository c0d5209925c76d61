import type { FastifyInstance, FastifyRequest } from 'fastify'
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox'
import { Type, type TSchema } from 'typebox'
import { callerOf } from '../caller.js'
import { brokerError } from '../errors.js'
import type { Accounts } from '../accounts.js'
import type { Policy } from '../policy.js'
import { BEARER_SECURITY, errorResponse, idParam, INVALID_ID_RESPONSE, UNAUTHENTICATED_RESPONSE } from '../schemas.js'
import type { Scope } from '../scope.js'
import type { TokenCache } from '../token-cache.js'
import { accountOf } from './issue.js'
import { ACCOUNT_BASES } from './tokens.js'

const EVICT_RESPONSES = {
  200: Type.Object(
    {
      evicted: Type.Integer({
        description: "How many cached copies were dropped: in this replica's memory or in Redis, whichever held more"
      })
    },
    { description: 'Evicted' }
  ),
  401: UNAUTHENTICATED_RESPONSE,
  403: errorResponse(['ADMIN_REQUIRED'], 'The caller is not marked admin in the policy'),
  503: errorResponse(
    ['EVICTION_INCOMPLETE'],
    'Evicted from this replica only: Redis could not be reached to evict across the fleet'
  )
}

function evictSchema (base: (typeof ACCOUNT_BASES)[number], summary: string, params?: Record<string, TSchema>) {
  const all = { ...base.params, ...params }
  const response = { ...EVICT_RESPONSES, ...base.responses, ...(params ? { 400: INVALID_ID_RESPONSE } : {}) }
  return {
    tags: ['cache'],
    summary: `${summary} of ${base.of}`,
    security: BEARER_SECURITY,
    ...(Object.keys(all).length > 0 ? { params: Type.Object(all) } : {}),
    response
  }
}

/** Operators who must stop handing out a token evict it; the next request mints a new one. Admin callers only. */
export default async function cacheRoutes (
  parent: FastifyInstance,
  options: { accounts: () => Accounts; policy: () => Policy; tokens: TokenCache }
) {
  const app = parent.withTypeProvider<TypeBoxTypeProvider>()
  const { accounts, policy, tokens } = options
  const evict = async (request: FastifyRequest, token: { scope: Scope; id?: string } | undefined) => {
    if (!policy().isAdmin(callerOf(request))) throw brokerError('ADMIN_REQUIRED')
    const account = accountOf(request, accounts())
    return { evicted: await tokens.evict(token ? { account, ...token } : { account }) }
  }

  for (const base of ACCOUNT_BASES) {
    app.delete(`${base.prefix}/cache`, { schema: evictSchema(base, 'Evict every cached token') }, async (request) =>
      evict(request, undefined)
    )
    app.delete(
      `${base.prefix}/cache/account`,
      { config: { scope: 'account' }, schema: evictSchema(base, 'Evict the cached Account token') },
      async (request) => evict(request, { scope: 'account' })
    )
    app.delete(
      `${base.prefix}/cache/project/:projectId`,
      {
        config: { scope: 'project' },
        schema: evictSchema(base, 'Evict a cached Project token', { projectId: idParam('project') })
      },
      async (request) => evict(request, { scope: 'project', id: (request.params as { projectId: string }).projectId })
    )
    app.delete(
      `${base.prefix}/cache/video/:videoId`,
      {
        config: { scope: 'video' },
        schema: evictSchema(base, 'Evict a cached Video token', { videoId: idParam('video') })
      },
      async (request) => evict(request, { scope: 'video', id: (request.params as { videoId: string }).videoId })
    )
  }
}
