import { webcrypto } from 'node:crypto'
import {
  createRemoteJWKSet,
  jwksCache,
  jwtVerify,
  type CryptoKey,
  type FlattenedJWSInput,
  type JWKSCacheInput,
  type JWSHeaderParameters,
  type JWTVerifyOptions
} from 'jose'
import { authError, callerIdFrom, checkClaims, rolesFrom, type AuthReason } from './auth-claims.js'
import type { Clock } from './clock.js'
import type { AuthConfig } from './config.js'
import { brokerError, isBrokerError, type BrokerError } from './errors.js'

export { AUTH_REASONS, callerIdFrom, type AuthReason } from './auth-claims.js'

/** Who a verified token speaks for, and until when (epoch ms). */
export interface VerifiedCaller {
  caller: string
  roles: readonly string[]
  expiresAt: number
}

/** Verifies a bearer token and names its caller; rejects with a catalogue error that carries a reason. */
export type CallerVerifier = (token: string) => Promise<VerifiedCaller>

/** jose keeps the fetched key set and the time of its last successful fetch (uat) here, for GET /status. */
export type JwksState = JWKSCacheInput

type KeyResolver = (header: JWSHeaderParameters, token: FlattenedJWSInput) => Promise<CryptoKey>

/**
 * The verifier for the configured mode: one pinned algorithm, the issuers and audiences from the config,
 * exp required, iat/nbf/exp NumericDates (jose checks those), then the tenant, the lifetime and the caller claim.
 */
/** The HS256 secret is a getter, read per verification, so a new AUTH_JWT_SECRET_FILE takes effect at once. */
export type VerifierAuth = AuthConfig<() => string>

export function createCallerVerifier (auth: VerifierAuth, clock: Clock, jwksState: JwksState = {}): CallerVerifier {
  const key = auth.mode === 'hs256' ? secretKey(auth.secret) : jwksKeyResolver(auth, jwksState)
  const options: JWTVerifyOptions = {
    algorithms: [auth.mode === 'hs256' ? 'HS256' : 'RS256'],
    issuer: auth.issuers,
    audience: auth.audiences,
    requiredClaims: ['exp'],
    clockTolerance: auth.clockSkewSeconds
  }
  return async (token) => {
    const now = clock.now()
    let claims
    try {
      ;({ payload: claims } = await jwtVerify(token, key, { ...options, currentDate: new Date(now) }))
    } catch (error) {
      throw toAuthError(error)
    }
    checkClaims(claims, auth, Math.floor(now / 1000))
    return {
      caller: callerIdFrom(claims, auth.callerClaims),
      roles: rolesFrom(claims),
      expiresAt: (claims.exp as number) * 1000
    }
  }
}

/** The token of an `Authorization: Bearer <token>` header; anything else is no bearer token at all. */
export function bearerToken (authorization: string | undefined): string {
  if (authorization === undefined || !/^Bearer\s/i.test(authorization)) throw authError('AUTH_REQUIRED', 'missing')
  const parts = authorization.split(' ')
  if (parts.length !== 2 || parts[1] === '') throw authError('AUTH_INVALID', 'malformed')
  return parts[1] as string
}

// The HMAC key is imported once per secret, rather than once per token.
function secretKey (secret: () => string): KeyResolver {
  let current: { secret: string; key: Promise<CryptoKey> } | undefined
  return () => {
    const value = secret()
    if (current?.secret !== value) {
      const bytes = new TextEncoder().encode(value)
      const key = webcrypto.subtle.importKey('raw', bytes, { name: 'HMAC', hash: 'SHA-256' }, false, ['verify'])
      current = { secret: value, key: key as Promise<CryptoKey> }
    }
    return current.key
  }
}

/**
 * Resolves the verification key from the JWKS by the token's kid. jose checks the algorithm before asking,
 * bounds the fetch with a timeout, shares one in-flight fetch, and refetches for an unknown kid at most
 * once per cooldown.
 */
function jwksKeyResolver (auth: Extract<VerifierAuth, { jwksUri: string }>, jwksState: JwksState): KeyResolver {
  const jwks = createRemoteJWKSet(new URL(auth.jwksUri), {
    timeoutDuration: auth.jwksTimeoutMs,
    cooldownDuration: auth.jwksCooldownMs,
    [jwksCache]: jwksState
  })
  return async (header, token) => {
    try {
      return await jwks(header, token)
    } catch (error) {
      throw jwksError(error)
    }
  }
}

function jwksError (error: unknown): BrokerError {
  const code = (error as { code?: string }).code
  if (code === 'ERR_JWKS_NO_MATCHING_KEY' || code === 'ERR_JWKS_MULTIPLE_MATCHING_KEYS') {
    return authError('AUTH_INVALID', 'unknown_kid', error)
  }
  return brokerError('JWKS_UNAVAILABLE', { retryAfterSeconds: 5, reason: 'jwks_unavailable', cause: error })
}

const REASON_BY_CODE = new Map<string, AuthReason>([
  ['ERR_JOSE_ALG_NOT_ALLOWED', 'algorithm'],
  ['ERR_JWS_SIGNATURE_VERIFICATION_FAILED', 'signature']
])
const REASON_BY_FAILED_CLAIM = new Map<string, AuthReason>([
  ['nbf', 'not_yet_valid'],
  ['iss', 'issuer'],
  ['aud', 'audience']
])

/** Maps a jose verification failure to a 401 with its reason (a 503 from the JWKS passes through); never a 500. */
export function toAuthError (error: unknown): BrokerError {
  if (isBrokerError(error)) return error
  const { code = '', claim = '', reason } = (error ?? {}) as { code?: string; claim?: string; reason?: string }
  if (code === 'ERR_JWT_EXPIRED') return authError('AUTH_EXPIRED', 'expired', error)
  if (code === 'ERR_JWT_CLAIM_VALIDATION_FAILED') {
    // jose's reasons: "invalid" (a claim of the wrong type), "missing", or "check_failed".
    const failed = reason === 'invalid' ? 'claim_type' : REASON_BY_FAILED_CLAIM.get(claim)
    return authError('AUTH_INVALID', failed ?? (reason === 'missing' ? 'missing_claim' : 'malformed'), error)
  }
  return authError('AUTH_INVALID', REASON_BY_CODE.get(code) ?? 'malformed', error)
}
