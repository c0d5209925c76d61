import { randomUUID } from 'node:crypto'
import { errors, jwtVerify } from 'jose'
import type { Principal } from './principals.js'
import { signJwt } from './signing-key.js'
import type { SigningKey } from './signing-key.js'

/** The audiences ARM accepts, as real ARM lists them in its error message. */
export const MANAGEMENT_AUDIENCES: readonly string[] = [
  'https://management.core.windows.net/',
  'https://management.core.windows.net',
  'https://management.azure.com/',
  'https://management.azure.com'
]

export interface IssuedToken {
  accessToken: string
  /** Epoch seconds. */
  expiresOn: number
}

export type TokenCheck =
  | { ok: true; principalId: string }
  | { ok: false; reason: 'invalid' }
  | { ok: false; reason: 'expired'; expiredAt: number }
  | { ok: false; reason: 'audience'; audience: string }

export interface TokenAuthority {
  readonly tenantId: string
  issue(resource: string, principal: Principal): Promise<IssuedToken>
  verify(token: string): Promise<TokenCheck>
}

export interface TokenAuthorityOptions {
  key: SigningKey
  tenantId: string
  lifetimeSeconds: number
  now: () => number
}

/**
 * The emulator's Microsoft Entra ID: mints the management-plane access tokens that the managed-identity
 * and Entra token endpoints hand out (v1-style JWTs, as ARM receives them), and checks them for ARM.
 */
export function createTokenAuthority ({ key, tenantId, lifetimeSeconds, now }: TokenAuthorityOptions): TokenAuthority {
  const issuer = `https://sts.windows.net/${tenantId}/`
  return {
    tenantId,
    async issue (resource, principal) {
      const iat = Math.floor(now() / 1000)
      const expiresOn = iat + lifetimeSeconds
      const accessToken = await signJwt(key, {
        aud: resource,
        iss: issuer,
        iat,
        nbf: iat,
        exp: expiresOn,
        appid: principal.clientId,
        appidacr: '2',
        idp: issuer,
        idtyp: 'app',
        oid: principal.principalId,
        sub: principal.principalId,
        tid: tenantId,
        uti: randomUUID(),
        ver: '1.0'
      })
      return { accessToken, expiresOn }
    },
    async verify (token) {
      try {
        const { payload } = await jwtVerify(token, key.publicKey, {
          issuer,
          algorithms: ['RS256'],
          currentDate: new Date(now()),
          requiredClaims: ['exp', 'oid']
        })
        if (typeof payload.aud !== 'string' || !MANAGEMENT_AUDIENCES.includes(payload.aud)) {
          return { ok: false, reason: 'audience', audience: String(payload.aud) }
        }
        return { ok: true, principalId: String(payload.oid) }
      } catch (error) {
        if (error instanceof errors.JWTExpired) {
          return { ok: false, reason: 'expired', expiredAt: Number(error.payload.exp) }
        }
        return { ok: false, reason: 'invalid' }
      }
    }
  }
}
