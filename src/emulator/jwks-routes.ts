import type { FastifyInstance } from 'fastify'
import type { CallerIssuer } from './caller-issuer.js'
import type { Counters } from './counters.js'
import type { Faults } from './faults.js'

export interface JwksRoutesOptions {
  callerIssuer: CallerIssuer
  counters: Counters
  faults: Faults
}

/** The JWKS that verifies caller tokens. */
export async function jwksRoutes (
  app: FastifyInstance,
  { callerIssuer, counters, faults }: JwksRoutesOptions
): Promise<void> {
  app.get(
    '/.well-known/jwks.json',
    { onRequest: [async () => counters.jwksRequest(), faults.hook('jwks')] },
    async () => callerIssuer.jwks()
  )
}
