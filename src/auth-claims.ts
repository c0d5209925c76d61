import type { JWTPayload } from 'jose'
import type { AuthConfig } from './config.js'
import { brokerError, type BrokerError } from './errors.js'
import { MAX_CALLER_ID_LENGTH } from './scope.js'

/**
 * Why a caller was refused, for operators (audit record `reason`, the `info` log line); never sent to the caller.
 * `missing`: no bearer token; `duplicate_header`: more than one Authorization header; `malformed`: not a JWT;
 * `algorithm`: an algorithm other than the mode's; `unknown_kid`: no JWKS key for the token; `signature`: the
 * signature does not verify; `claim_type`: a registered claim (or `roles`) of the wrong type; `missing_claim`:
 * no exp; `expired`, `not_yet_valid` (nbf or iat ahead of now), `issuer`, `audience`, `tenant` (Entra mode's
 * tid), `lifetime` (over AUTH_MAX_TOKEN_LIFETIME_SECONDS), `no_caller`; `jwks_unavailable` (a 503).
 */
export const AUTH_REASONS = [
  'missing',
  'duplicate_header',
  'malformed',
  'algorithm',
  'unknown_kid',
  'signature',
  'claim_type',
  'missing_claim',
  'expired',
  'not_yet_valid',
  'issuer',
  'audience',
  'tenant',
  'lifetime',
  'no_caller',
  'jwks_unavailable'
] as const

export type AuthReason = (typeof AUTH_REASONS)[number]

type AuthCode = 'AUTH_REQUIRED' | 'AUTH_INVALID' | 'AUTH_EXPIRED' | 'AUTH_NO_CALLER'

/** A 401 with its reason. */
export function authError (code: AuthCode, reason: AuthReason, cause?: unknown): BrokerError {
  return brokerError(code, cause === undefined ? { reason } : { reason, cause })
}

/**
 * The caller id is the first configured claim present in the token. If that claim is not a usable id
 * (a string of 1 to 256 characters), the token identifies no caller: a later claim does not stand in for it.
 */
export function callerIdFrom (claims: Record<string, unknown>, claimNames: readonly string[]): string {
  for (const name of claimNames) {
    if (!Object.hasOwn(claims, name)) continue
    const value = claims[name]
    if (typeof value === 'string' && value.length > 0 && value.length <= MAX_CALLER_ID_LENGTH) return value
    break
  }
  throw authError('AUTH_NO_CALLER', 'no_caller')
}

const MAX_ROLES = 256
const NO_ROLES: readonly string[] = Object.freeze([])

/**
 * The app roles granted to the caller: Entra's `roles` claim, an array of strings (Microsoft's access token
 * claims reference). Absent means none; any other shape is refused rather than guessed at.
 */
export function rolesFrom (claims: Record<string, unknown>): readonly string[] {
  const roles = claims.roles
  if (roles === undefined) return NO_ROLES
  if (
    !Array.isArray(roles) ||
    roles.length > MAX_ROLES ||
    !roles.every((role) => typeof role === 'string' && role.length > 0 && role.length <= MAX_CALLER_ID_LENGTH)
  ) {
    throw authError('AUTH_INVALID', 'claim_type')
  }
  return Object.freeze([...(roles as string[])])
}

/**
 * The checks jose does not make: Entra mode's tenant, an issue time ahead of now, and the token's lifetime
 * (exp − iat, and exp − now, both within the maximum). jose has checked that exp, iat and nbf are numbers.
 */
export function checkClaims (claims: JWTPayload, auth: AuthConfig<unknown>, nowSeconds: number): void {
  if (auth.mode === 'entra' && claims.tid !== auth.tenantId) throw authError('AUTH_INVALID', 'tenant')
  const exp = claims.exp as number
  const { iat } = claims
  if (iat !== undefined && iat > nowSeconds + auth.clockSkewSeconds) throw authError('AUTH_INVALID', 'not_yet_valid')
  const lifetime = Math.max(exp - nowSeconds, iat === undefined ? 0 : exp - iat)
  if (lifetime > auth.maxLifetimeSeconds) throw authError('AUTH_INVALID', 'lifetime')
}
