import type { FastifyInstance, FastifyRequest } from 'fastify'
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox'
import { Type, type TSchema } from 'typebox'
import { callerOf } from '../caller.js'
import { brokerError } from '../errors.js'
import type { Policy } from '../policy.js'
import { BEARER_SECURITY, errorResponse, idParam, INVALID_ID_RESPONSE, UNAUTHENTICATED_RESPONSE } from '../schemas.js'
import type { Scope } from '../scope.js'
import type { TokenCache } from '../token-cache.js'
import type { Account } from '../token-source.js'

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

function evictSchema (summary: string, params?: TSchema) {
  return {
    tags: ['cache'],
    summary,
    security: BEARER_SECURITY,
    ...(params ? { params, response: { ...EVICT_RESPONSES, 400: INVALID_ID_RESPONSE } } : { response: EVICT_RESPONSES })
  }
}

/** Operators who must stop handing out a token evict it; the next request mints a new one. Admin callers only. */
export default async function cacheRoutes (
  parent: FastifyInstance,
  options: { account: Account; policy: () => Policy; tokens: TokenCache }
) {
  const app = parent.withTypeProvider<TypeBoxTypeProvider>()
  const { account, policy, tokens } = options
  const evict = async (request: FastifyRequest, token: { scope: Scope; id?: string } | undefined) => {
    if (!policy().isAdmin(callerOf(request))) throw brokerError('ADMIN_REQUIRED')
    return { evicted: await tokens.evict(token ? { account, ...token } : { account }) }
  }

  app.delete('/cache', { schema: evictSchema('Evict every cached token') }, async (request) =>
    evict(request, undefined)
  )
  app.delete(
    '/cache/account',
    { config: { scope: 'account' }, schema: evictSchema('Evict the cached Account token') },
    async (request) => evict(request, { scope: 'account' })
  )
  app.delete(
    '/cache/project/:projectId',
    {
      config: { scope: 'project' },
      schema: evictSchema('Evict a cached Project token', Type.Object({ projectId: idParam('project') }))
    },
    async (request) => evict(request, { scope: 'project', id: (request.params as { projectId: string }).projectId })
  )
  app.delete(
    '/cache/video/:videoId',
    {
      config: { scope: 'video' },
      schema: evictSchema('Evict a cached Video token', Type.Object({ videoId: idParam('video') }))
    },
    async (request) => evict(request, { scope: 'video', id: (request.params as { videoId: string }).videoId })
  )
}
