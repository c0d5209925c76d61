import { KeyObject } from 'node:crypto'
import type { FastifyJWTOptions, TokenOrHeader } from '@fastify/jwt'
import type { FastifyRequest } from 'fastify'
import { createRemoteJWKSet, type CryptoKey, type JWSHeaderParameters } from 'jose'
import type { AuthConfig } from './config.js'
import { brokerError, isBrokerError, type BrokerError } from './errors.js'
import { MAX_CALLER_ID_LENGTH } from './scope.js'

interface DecodedToken {
  header: JWSHeaderParameters
}

/**
 * The @fastify/jwt options for the configured mode: pinned algorithm, issuer, audience, required exp.
 * The HS256 secret is read per verification, so a new AUTH_JWT_SECRET_FILE takes effect at once.
 */
export function jwtOptions (auth: AuthConfig<() => string>): FastifyJWTOptions {
  const algorithm = auth.mode === 'jwks' ? 'RS256' : 'HS256'
  return {
    secret: auth.mode === 'jwks' ? jwksKeyResolver(auth) : async () => auth.secret(),
    decode: { complete: true },
    verify: {
      algorithms: [algorithm],
      allowedIss: auth.issuer,
      allowedAud: auth.audience,
      requiredClaims: ['exp'],
      clockTolerance: auth.clockSkewSeconds * 1000,
      cache: true
    }
  }
}

/**
 * Resolves the verification key from the JWKS by the token's kid. jose bounds the fetch with a
 * timeout, shares one in-flight fetch, and refetches for an unknown kid at most once per cooldown.
 * The key is handed to fast-jwt as PEM, which lets @fastify/jwt reuse one verifier (and its cache) per key.
 */
function jwksKeyResolver (auth: Extract<AuthConfig, { mode: 'jwks' }>) {
  const jwks = createRemoteJWKSet(new URL(auth.jwksUri), {
    timeoutDuration: auth.jwksTimeoutMs,
    cooldownDuration: auth.jwksCooldownMs
  })
  const pemByKey = new WeakMap<CryptoKey, string>()
  return async (_request: FastifyRequest, token: TokenOrHeader): Promise<string> => {
    const { header } = token as DecodedToken
    // Never fetch keys for a token that could not pass anyway.
    if (header.alg !== 'RS256') throw brokerError('AUTH_INVALID')
    let key: CryptoKey
    try {
      key = await jwks(header)
    } catch (error) {
      throw jwksError(error)
    }
    let pem = pemByKey.get(key)
    if (pem === undefined) {
      pem = KeyObject.from(key).export({ type: 'spki', format: 'pem' }) as string
      pemByKey.set(key, pem)
    }
    return pem
  }
}

function jwksError (error: unknown): BrokerError {
  const code = (error as { code?: string }).code
  if (code === 'ERR_JWKS_NO_MATCHING_KEY' || code === 'ERR_JWKS_MULTIPLE_MATCHING_KEYS') {
    return brokerError('AUTH_INVALID', { cause: error })
  }
  return brokerError('JWKS_UNAVAILABLE', { retryAfterSeconds: 5, cause: error })
}

const EXPIRED = new Set(['FST_JWT_AUTHORIZATION_TOKEN_EXPIRED', 'FAST_JWT_EXPIRED'])
const MISSING = new Set(['FST_JWT_NO_AUTHORIZATION_IN_HEADER'])

/** Maps any verification failure to a 401 (or a 503 when the JWKS itself is unreachable); never a 500. */
export function toAuthError (error: unknown): BrokerError {
  if (isBrokerError(error)) return error
  const code = (error as { code?: string } | null)?.code ?? ''
  if (MISSING.has(code)) return brokerError('AUTH_REQUIRED', { cause: error })
  if (EXPIRED.has(code)) return brokerError('AUTH_EXPIRED', { cause: error })
  return brokerError('AUTH_INVALID', { cause: error })
}

/** The caller id is the first configured claim that holds a usable string. */
export function callerIdFrom (claims: Record<string, unknown>, claimNames: readonly string[]): string {
  for (const name of claimNames) {
    const value = claims[name]
    if (typeof value === 'string' && value.length > 0 && value.length <= MAX_CALLER_ID_LENGTH) return value
  }
  throw brokerError('AUTH_NO_CALLER')
}
