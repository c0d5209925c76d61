import type { FastifyInstance } from 'fastify'
import type { JSONWebKeySet } from 'jose'
import type { CallerIssuer } from './caller-issuer.js'
import type { Counters } from './counters.js'
import type { Faults } from './faults.js'

export interface JwksRoutesOptions {
  callerIssuer: CallerIssuer
  /** Every key the tenant signs with (caller and management tokens), as Entra's discovery keys list them. */
  tenantKeys: JSONWebKeySet
  counters: Counters
  faults: Faults
}

/**
 * The keys that verify caller tokens: the caller issuer's own JWKS, and Microsoft Entra's discovery
 * documents (`/{tenant}/v2.0/.well-known/openid-configuration` and its jwks_uri, `/{tenant}/discovery/v2.0/keys`),
 * which a broker in Entra mode reads. Entra's signing keys are common to all tenants, so any tenant is served.
 */
export async function jwksRoutes (
  app: FastifyInstance,
  { callerIssuer, tenantKeys, counters, faults }: JwksRoutesOptions
): Promise<void> {
  const hooks = { onRequest: [async () => counters.jwksRequest(), faults.hook('jwks')] }
  app.get('/.well-known/jwks.json', hooks, async () => callerIssuer.jwks())
  app.get('/:tenantId/discovery/v2.0/keys', hooks, async () => tenantKeys)

  app.get<{ Params: { tenantId: string } }>('/:tenantId/v2.0/.well-known/openid-configuration', async (request) => {
    const base = `${request.protocol}://${request.host}/${request.params.tenantId}`
    return {
      issuer: `${base}/v2.0`,
      authorization_endpoint: `${base}/oauth2/v2.0/authorize`,
      token_endpoint: `${base}/oauth2/v2.0/token`,
      jwks_uri: `${base}/discovery/v2.0/keys`,
      token_endpoint_auth_methods_supported: ['client_secret_post', 'private_key_jwt', 'client_secret_basic'],
      response_types_supported: ['code', 'id_token', 'code id_token', 'id_token token'],
      subject_types_supported: ['pairwise'],
      id_token_signing_alg_values_supported: ['RS256'],
      scopes_supported: ['openid', 'profile', 'email', 'offline_access'],
      tenant_region_scope: null,
      cloud_instance_name: 'microsoftonline.com'
    }
  })
}
