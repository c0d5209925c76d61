import type { FastifyInstance, FastifyRequest } from 'fastify'
import fp from 'fastify-plugin'
import { LRUCache } from 'lru-cache'
import { authError } from '../auth-claims.js'
import { bearerToken, createCallerVerifier, toAuthError, type JwksState } from '../auth.js'
import type { Clock } from '../clock.js'
import type { AuthConfig } from '../config.js'

/** A bounded memo of verified tokens: 1,000 of them, each kept 10 minutes at most (and never past its exp). */
const VERIFIED_MAX_ENTRIES = 1_000
const VERIFIED_MAX_AGE_MS = 600_000

interface Remembered {
  caller: string
  roles: readonly string[]
  until: number
}

/**
 * Verifies the caller's bearer JWT and sets request.caller and request.callerRoles; use as an onRequest hook
 * in the authenticated scope. A BFF sends the same JWT many times, so a verified Authorization header maps
 * straight to its caller until the token's exp: a repeat skips decoding and verifying, the largest cost of a
 * cache hit. A refusal is logged at info with its reason, never with the token.
 */
export default fp(
  async function authenticate (
    app: FastifyInstance,
    options: { auth: AuthConfig<() => string>; clock: Clock; jwks?: JwksState | undefined }
  ) {
    const { clock } = options
    const verify = createCallerVerifier(options.auth, clock, options.jwks)
    const verified = new LRUCache<string, Remembered>({ max: VERIFIED_MAX_ENTRIES })
    app.decorateRequest('caller', null)
    app.decorateRequest('callerRoles', null)

    async function identify (request: FastifyRequest): Promise<void> {
      // Node keeps the first of several Authorization headers; an ambiguous request is refused instead.
      if (countHeader(request.raw.rawHeaders, 'authorization') > 1) throw authError('AUTH_INVALID', 'duplicate_header')
      const header = request.headers.authorization
      const known = header === undefined ? undefined : verified.get(header)
      if (known !== undefined && clock.now() < known.until) {
        request.caller = known.caller
        request.callerRoles = known.roles
        return
      }
      const { caller, roles, expiresAt } = await verify(bearerToken(header))
      request.caller = caller
      request.callerRoles = roles
      verified.set(header as string, { caller, roles, until: Math.min(expiresAt, clock.now() + VERIFIED_MAX_AGE_MS) })
    }

    app.decorate('authenticate', async function verifyCaller (request: FastifyRequest) {
      try {
        await identify(request)
      } catch (error) {
        const refusal = toAuthError(error)
        if (refusal.statusCode < 500) {
          request.log.info({ code: refusal.code, reason: refusal.reason }, 'caller refused')
        }
        throw refusal
      }
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
    /** The app roles in the caller's token (Entra's `roles` claim); null before authentication. */
    callerRoles: readonly string[] | null
  }
  interface FastifyInstance {
    authenticate(request: FastifyRequest): Promise<void>
  }
}
