import { randomBytes } from 'node:crypto'
import type { JSONWebKeySet, JWTPayload } from 'jose'
import { uuidFromText } from './principals.js'
import { signJwt } from './signing-key.js'
import type { SigningKey } from './signing-key.js'

export interface CallerTokenOptions {
  /** The access-token version, which the resource's manifest (requestedAccessTokenVersion) decides; 2 by default. */
  version?: 1 | 2 | undefined
  /** App roles assigned to the caller's service principal: the `roles` claim (absent when there are none). */
  roles?: string[] | undefined
  /** Mint as another tenant would: its tid, and the issuer and idp that name it. */
  tenantId?: string | undefined
  /** Merged over the claims above; a claim set to `undefined` or `null` is dropped. */
  claims?: Record<string, unknown> | undefined
  expiresInSeconds?: number | undefined
}

/** Who the tokens are for: the broker's app registration, as Entra knows it. */
export interface BrokerApp {
  /** The application (client) id: a v2 token's aud. */
  clientId: string
  /** The application ID URI: a v1 token's aud when the caller asks for `{uri}/.default`. */
  applicationIdUri: string
}

export interface CallerIssuer extends BrokerApp {
  readonly tenantId: string
  /** The v2.0 issuer, {authority}/{tenant}/v2.0. */
  readonly issuer: string
  /** The v1.0 issuer, https://sts.windows.net/{tenant}/. */
  readonly v1Issuer: string
  /** The audience of a v2.0 token: the broker app's client id. */
  readonly audience: string
  /** Mints an app-only access token for the calling app (its client id is `caller`). */
  mint(caller: string, options?: CallerTokenOptions): Promise<string>
  jwks(): JSONWebKeySet
}

export interface CallerIssuerOptions {
  key: SigningKey
  tenantId: string
  app: BrokerApp
  /** The authority a v2.0 issuer names (known once the emulator listens). */
  authority: () => string
  now: () => number
}

const DEFAULT_LIFETIME_SECONDS = 3600

const v1IssuerOf = (tenantId: string) => `https://sts.windows.net/${tenantId}/`
// Opaque claims (aio, rh): Microsoft marks them as not for resources to read; only their shape matters here.
const opaque = (bytes: number) => randomBytes(bytes).toString('base64url')

/**
 * Issues the access tokens that Microsoft Entra ID gives a daemon (a BFF) for the broker, in the client
 * credentials flow, and publishes the key to verify them. The claims of each version follow Microsoft's
 * "Access token claims reference" (learn.microsoft.com/entra/identity-platform/access-token-claims-reference):
 * v1.0 names the caller in appid/appidacr and carries the requested aud (the application ID URI);
 * v2.0 names it in azp/azpacr and its aud is always the API's client id. roles holds the app roles assigned
 * to the caller's service principal ("Add app roles and get them from a token", app-only callers);
 * oid and sub are that service principal's object id.
 */
export function createCallerIssuer ({ key, tenantId, app, authority, now }: CallerIssuerOptions): CallerIssuer {
  const v2IssuerOf = (tenant: string) => `${authority()}/${tenant}/v2.0`
  return {
    tenantId,
    ...app,
    get issuer () {
      return v2IssuerOf(tenantId)
    },
    v1Issuer: v1IssuerOf(tenantId),
    audience: app.clientId,
    mint (caller, options = {}) {
      const { version = 2, roles = [], tenantId: tenant = tenantId, claims = {} } = options
      const iat = Math.floor(now() / 1000)
      const servicePrincipal = uuidFromText(`service-principal:${tenant}:${caller}`)
      const v1 = version === 1
      const merged: Record<string, unknown> = {
        aud: v1 ? app.applicationIdUri : app.clientId,
        iss: v1 ? v1IssuerOf(tenant) : v2IssuerOf(tenant),
        iat,
        nbf: iat,
        exp: iat + (options.expiresInSeconds ?? DEFAULT_LIFETIME_SECONDS),
        aio: opaque(48),
        [v1 ? 'appid' : 'azp']: caller,
        // 2: the client authenticated with a certificate or a federated credential (managed identity).
        [v1 ? 'appidacr' : 'azpacr']: '2',
        idp: v1IssuerOf(tenant),
        oid: servicePrincipal,
        rh: `0.${opaque(60)}.`,
        ...(roles.length > 0 ? { roles } : {}),
        sub: servicePrincipal,
        tid: tenant,
        uti: opaque(16),
        ver: v1 ? '1.0' : '2.0',
        ...claims
      }
      const payload = Object.fromEntries(
        Object.entries(merged).filter(([, value]) => value !== undefined && value !== null)
      )
      // x5t: a legacy header, the same as kid, emitted only in v1.0 tokens.
      return signJwt(key, payload as JWTPayload, v1 ? { x5t: key.kid } : {})
    },
    jwks () {
      return { keys: [key.publicJwk] }
    }
  }
}
