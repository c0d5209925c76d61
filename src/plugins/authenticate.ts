import fastifyJwt from '@fastify/jwt'
import type { FastifyInstance, FastifyRequest } from 'fastify'
import fp from 'fastify-plugin'
import { callerIdFrom, jwtOptions, toAuthError } from '../auth.js'
import type { AuthConfig } from '../config.js'

/** Verifies the caller's bearer JWT and sets request.caller; use as an onRequest hook in the authenticated scope. */
export default fp(
  async function authenticate(app: FastifyInstance, options: { auth: AuthConfig }) {
    const { auth } = options
    await app.register(fastifyJwt, jwtOptions(auth))
    app.decorateRequest('caller', null)
    app.decorate('authenticate', async function verifyCaller(request: FastifyRequest) {
      let claims: Record<string, unknown>
      try {
        claims = await request.jwtVerify<Record<string, unknown>>()
      } catch (error) {
        throw toAuthError(error)
      }
      request.caller = callerIdFrom(claims, auth.callerClaims)
    })
  },
  { name: 'authenticate' }
)

declare module 'fastify' {
  interface FastifyRequest {
    /** The verified caller id, or null before authentication. */
    caller: string | null
  }
  interface FastifyInstance {
    authenticate(request: FastifyRequest): Promise<void>
  }
}
