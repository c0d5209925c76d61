import fastifyJwt from '@fastify/jwt'
import type { FastifyInstance, FastifyRequest } from 'fastify'
import fp from 'fastify-plugin'
import { callerIdFrom, jwtOptions, toAuthError } from '../auth.js'
import type { AuthConfig } from '../config.js'
import { brokerError } from '../errors.js'

/** Verifies the caller's bearer JWT and sets request.caller; use as an onRequest hook in the authenticated scope. */
export default fp(
  async function authenticate(app: FastifyInstance, options: { auth: AuthConfig }) {
    const { auth } = options
    await app.register(fastifyJwt, jwtOptions(auth))
    app.decorateRequest('caller', null)
    app.decorate('authenticate', async function verifyCaller(request: FastifyRequest) {
      // Node keeps the first of several Authorization headers; an ambiguous request is refused instead.
      if (countHeader(request.raw.rawHeaders, 'authorization') > 1) throw brokerError('AUTH_INVALID')
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

function countHeader(rawHeaders: string[], name: string): number {
  let count = 0
  for (let i = 0; i < rawHeaders.length; i += 2) if (rawHeaders[i]?.toLowerCase() === name) count++
  return count
}

declare module 'fastify' {
  interface FastifyRequest {
    /** The verified caller id, or null before authentication. */
    caller: string | null
  }
  interface FastifyInstance {
    authenticate(request: FastifyRequest): Promise<void>
  }
}
