import { randomBytes, randomUUID } from 'node:crypto'
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
      AVI_SUBSCRIPTION_ID: randomUUID(),
      AVI_RESOURCE_GROUP: 'placeholder-rg',
      AVI_ACCOUNT_NAME: 'placeholder',
      // Random, since placeholder keys are refused (src/config/placeholders.ts).
      AUTH_JWT_SECRET: randomBytes(32).toString('hex'),
      AUTH_ISSUER: 'placeholder',
      AUTH_AUDIENCE: 'placeholder',
      POLICY_FILE: 'placeholder.json',
      AUDIT_HMAC_KEY: randomBytes(32).toString('hex')
    }),
    policy: createPolicy({ callers: {} }),
    // Never asked for a token: building the document makes no ARM call.
    credential: new ManagedIdentityCredential(),
    logStream: pino.destination('/dev/null')
  })
  await app.ready()
  return app
}
