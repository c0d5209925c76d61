import fastifyJwt from '@fastify/jwt'
import type { FastifyInstance, FastifyRequest } from 'fastify'
import fp from 'fastify-plugin'
import { LRUCache } from 'lru-cache'
import { callerIdFrom, jwtOptions, toAuthError } from '../auth.js'
import type { AuthConfig } from '../config.js'
import { brokerError } from '../errors.js'

/** As fast-jwt's own verified-token cache: as many tokens, kept as long at most (and never past exp). */
const VERIFIED_MAX_ENTRIES = 1_000
const VERIFIED_MAX_AGE_MS = 600_000

/**
 * Verifies the caller's bearer JWT and sets request.caller; use as an onRequest hook in the authenticated scope.
 * A BFF sends the same JWT many times, so a verified Authorization header maps straight to its caller until
 * the token's exp: a repeat skips decoding, hashing and @fastify/jwt's lookup, the largest cost of a cache hit.
 */
export default fp(
  async function authenticate (app: FastifyInstance, options: { auth: AuthConfig<() => string> }) {
    const { auth } = options
    await app.register(fastifyJwt, jwtOptions(auth))
    const verified = new LRUCache<string, { caller: string; until: number }>({ max: VERIFIED_MAX_ENTRIES })
    app.decorateRequest('caller', null)
    app.decorate('authenticate', async function verifyCaller (request: FastifyRequest) {
      // Node keeps the first of several Authorization headers; an ambiguous request is refused instead.
      if (countHeader(request.raw.rawHeaders, 'authorization') > 1) throw brokerError('AUTH_INVALID')
      const header = request.headers.authorization
      const known = header === undefined ? undefined : verified.get(header)
      if (known !== undefined && Date.now() < known.until) {
        request.caller = known.caller
        return
      }
      let claims: Record<string, unknown>
      try {
        claims = await request.jwtVerify<Record<string, unknown>>()
      } catch (error) {
        throw toAuthError(error)
      }
      const caller = callerIdFrom(claims, auth.callerClaims)
      request.caller = caller
      // fast-jwt has checked that exp is a number; past it, the token goes through full verification again.
      verified.set(header as string, {
        caller,
        until: Math.min((claims.exp as number) * 1000, Date.now() + VERIFIED_MAX_AGE_MS)
      })
    })
  },
  { name: 'authenticate' }
)

function countHeader (rawHeaders: string[], name: string): number {
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
