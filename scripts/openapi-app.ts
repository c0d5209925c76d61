import { ManagedIdentityCredential } from '@azure/identity'
import { pino } from 'pino'
import type { FastifyInstance } from 'fastify'
import { buildApp } from '../src/app.js'
import { loadConfig } from '../src/config.js'
import { createPolicy } from '../src/policy.js'

/**
 * The app as the OpenAPI document sees it. The document depends only on the routes, so any valid
 * configuration will do; these placeholders never reach a network.
 */
export async function buildOpenApiApp (): Promise<FastifyInstance> {
  const app = await buildApp({
    config: loadConfig({
      AVI_SUBSCRIPTION_ID: '00000000-0000-0000-0000-000000000000',
      AVI_RESOURCE_GROUP: 'placeholder-rg',
      AVI_ACCOUNT_NAME: 'placeholder',
      AUTH_JWT_SECRET: 'placeholder-secret-of-at-least-32-bytes',
      AUTH_ISSUER: 'placeholder',
      AUTH_AUDIENCE: 'placeholder',
      POLICY_FILE: 'placeholder.json',
      AUDIT_HMAC_KEY: 'placeholder-key-of-at-least-32-chars'
    }),
    policy: createPolicy({ callers: {} }),
    // Never asked for a token: building the document makes no ARM call.
    credential: new ManagedIdentityCredential(),
    logStream: pino.destination('/dev/null')
  })
  await app.ready()
  return app
}
