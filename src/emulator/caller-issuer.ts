import type { JSONWebKeySet, JWTPayload } from 'jose'
import { signJwt } from './signing-key.js'
import type { SigningKey } from './signing-key.js'

export interface CallerTokenOptions {
  /** Merged over the defaults; a claim set to `undefined` or `null` is dropped. */
  claims?: Record<string, unknown> | undefined
  expiresInSeconds?: number | undefined
}

export interface CallerIssuer {
  readonly issuer: string
  readonly audience: string
  mint(caller: string, options?: CallerTokenOptions): Promise<string>
  jwks(): JSONWebKeySet
}

export interface CallerIssuerOptions {
  key: SigningKey
  issuer: string
  audience: string
  now: () => number
}

const DEFAULT_LIFETIME_SECONDS = 3600

/** Issues the tokens a broker caller (e.g. a BFF) presents, and publishes the key to verify them. */
export function createCallerIssuer ({ key, issuer, audience, now }: CallerIssuerOptions): CallerIssuer {
  return {
    issuer,
    audience,
    mint (caller, { claims = {}, expiresInSeconds = DEFAULT_LIFETIME_SECONDS } = {}) {
      const iat = Math.floor(now() / 1000)
      const merged: Record<string, unknown> = {
        iss: issuer,
        aud: audience,
        sub: caller,
        azp: caller,
        iat,
        nbf: iat,
        exp: iat + expiresInSeconds,
        ...claims
      }
      const payload = Object.fromEntries(
        Object.entries(merged).filter(([, value]) => value !== undefined && value !== null)
      )
      return signJwt(key, payload as JWTPayload)
    },
    jwks () {
      return { keys: [key.publicJwk] }
    }
  }
}
