import { randomUUID, timingSafeEqual } from 'node:crypto'
import type { FastifyInstance, FastifyReply } from 'fastify'
import type { Counters } from './counters.js'
import type { Faults } from './faults.js'
import type { Principals } from './principals.js'
import type { TokenAuthority } from './token-authority.js'

export interface IdentityRoutesOptions {
  identityHeader: string
  tokens: TokenAuthority
  principals: Principals
  counters: Counters
  faults: Faults
}

const API_VERSION = '2019-08-01'
const QUERY_NAMES = ['api-version', 'resource', 'client_id', 'principal_id', 'object_id', 'mi_res_id'] as const
type MsiQuery = Partial<Record<(typeof QUERY_NAMES)[number], string>>

function sameSecret (given: unknown, expected: string): boolean {
  if (typeof given !== 'string') return false
  const a = Buffer.from(given)
  const b = Buffer.from(expected)
  return a.length === b.length && timingSafeEqual(a, b)
}

/** App Service's error shape; MSAL reads `message` and `correlationId`. */
function reject (reply: FastifyReply, statusCode: number, message: string) {
  return reply.code(statusCode).send({ statusCode, message, correlationId: randomUUID() })
}

/** The App Service managed-identity endpoint (IDENTITY_ENDPOINT + IDENTITY_HEADER), as MSAL calls it. */
export async function identityRoutes (app: FastifyInstance, options: IdentityRoutesOptions): Promise<void> {
  const { identityHeader, tokens, principals, counters, faults } = options
  app.get<{ Querystring: MsiQuery }>(
    '/msi/token',
    {
      onRequest: [async () => counters.identityRequest(), faults.hook('identity')],
      schema: {
        querystring: {
          type: 'object',
          properties: Object.fromEntries(QUERY_NAMES.map((name) => [name, { type: 'string' }]))
        }
      }
    },
    async (request, reply) => {
      if (!sameSecret(request.headers['x-identity-header'], identityHeader)) {
        return reject(reply, 401, "The 'X-IDENTITY-HEADER' header is missing or does not match.")
      }
      const { 'api-version': apiVersion, resource, client_id: clientId, mi_res_id: resourceId } = request.query
      const principalId = request.query.principal_id ?? request.query.object_id
      if (apiVersion !== API_VERSION) {
        return reject(reply, 400, `The api-version '${apiVersion ?? ''}' is not supported; use '${API_VERSION}'.`)
      }
      if (!resource) return reject(reply, 400, "The 'resource' query parameter is required.")
      if ([clientId, principalId, resourceId].filter((id) => id !== undefined).length > 1) {
        return reject(reply, 400, 'Only one of client_id, principal_id, object_id or mi_res_id may be given.')
      }
      const principal = principals.select({ clientId, principalId, resourceId })
      const issued = await tokens.issue(resource, principal)
      return {
        access_token: issued.accessToken,
        expires_on: String(issued.expiresOn),
        resource,
        token_type: 'Bearer',
        client_id: principal.clientId
      }
    }
  )
}
