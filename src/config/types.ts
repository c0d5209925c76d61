import type { Keyring } from '../token-sealer.js'

export type AuthConfig =
  | ({ mode: 'jwks'; jwksUri: string; jwksTimeoutMs: number; jwksCooldownMs: number } & AuthCommon)
  | ({ mode: 'hs256'; secret: string } & AuthCommon)

export interface AuthCommon {
  issuer: string
  audience: string
  callerClaims: string[]
  clockSkewSeconds: number
}

export type IdentityConfig =
  | { kind: 'workload'; clientId: string; tenantId: string; tokenFilePath: string; authorityHost?: string }
  | { kind: 'managed'; clientId?: string }

export interface Config {
  port: number
  host: string
  /** A client must send its request headers within this; a trickling client is cut off. */
  headersTimeoutMs: number
  logLevel: string
  account: { subscriptionId: string; resourceGroup: string; name: string }
  arm: {
    endpoint: string
    apiVersion: string
    timeoutMs: number
    maxRetries: number
    retryAfterCapSeconds: number
    maxConcurrency: number
  }
  auth: AuthConfig
  identity: IdentityConfig
  policyFile: string
  cache: { maxEntries: number; minRemainingSeconds: number; refreshAheadSeconds: number }
  auditHmacKey: string
  auditLogFile: string | undefined
  shutdown: { delayMs: number; timeoutMs: number }
  docsEnabled: boolean
  /** Serve /metrics on this port instead of the main one. */
  metricsPort: number | undefined
  /** Token routes shed a share of requests (503 OVERLOADED) while they wait over targetDelayMs (0: off). */
  overload: { targetDelayMs: number; intervalMs: number }
  /** The shared Redis tier, when REDIS_URL is set. */
  redis: RedisConfig | undefined
}

export interface RedisConfig {
  url: string
  keyring: Keyring
  commandTimeoutMs: number
  /** Authenticate to Azure Cache for Redis with the broker's Entra identity; username is its object id. */
  entra: { username: string } | undefined
}
