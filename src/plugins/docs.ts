import swagger from '@fastify/swagger'
import swaggerUi from '@fastify/swagger-ui'
import type { FastifyInstance } from 'fastify'
import fp from 'fastify-plugin'
import { errorCodeSchema } from '../schemas.js'

const DESCRIPTION = `Issues Azure Video Indexer **restricted viewer access tokens** to internal callers (the front
ends' BFFs), so that browsers can embed the Video Indexer player and insights widgets without an Azure identity.

**Authentication.** Every token route needs \`Authorization: Bearer <caller JWT>\`: an RS256 token from
Microsoft Entra ID (or an HS256 token in the alternative mode) whose issuer and audience match the broker's
configuration. The caller id is the token's \`azp\` (or \`appid\`, \`sub\`) claim.

**Authorisation.** A per-caller policy says which scopes, and which ids, each caller may have. Deny by default.

**Tokens.** Tokens are minted through Azure Resource Manager with the broker's managed identity and cached
until shortly before they expire: a served token always has at least 300 s of life left (configurable).
Responses carry \`Cache-Control: no-store\`.

**Errors.** Every error body is \`{"error": {"code", "message", "details"?}}\` with a code from the
\`ErrorCode\` catalogue. 503 answers carry \`Retry-After\`.`

/** The OpenAPI document (GET /openapi.json) and Swagger UI (/docs), served from the broker's own assets. */
export default fp(
  async function docs (app: FastifyInstance, options: { version: string }) {
    await app.register(swagger, {
      openapi: {
        openapi: '3.1.0',
        info: { title: 'vi-token-broker', version: options.version, description: DESCRIPTION },
        tags: [
          {
            name: 'tokens',
            description:
              'Restricted viewer access tokens, of the default account (/tokens/...) ' +
              'or of an alias (/accounts/{alias}/tokens/...)'
          },
          {
            name: 'embed',
            description: 'Widget URLs (player, insights) with a Video-scope token, ready for an iframe'
          },
          { name: 'health', description: 'Liveness and readiness probes; no authentication' },
          { name: 'cache', description: 'Operators evict cached tokens; admin callers only' },
          { name: 'operations', description: "The broker's state and the policy's decisions; admin callers only" }
        ],
        components: {
          securitySchemes: {
            bearerAuth: {
              type: 'http',
              scheme: 'bearer',
              bearerFormat: 'JWT',
              description: "The caller JWT (Entra ID access token for the broker's audience)"
            }
          },
          schemas: { ErrorCode: errorCodeSchema() }
        }
      }
    })
    await app.register(swaggerUi, {
      routePrefix: '/docs',
      uiConfig: { persistAuthorization: true, displayRequestDuration: true, tryItOutEnabled: true },
      // The spec is served at /openapi.json, so the UI's own copy need not be listed.
      uiHooks: {}
    })
    app.get('/openapi.json', { schema: { hide: true } }, async () => app.swagger())
  },
  { name: 'docs' }
)
