import type { Keyring } from '../token-sealer.js'
import type { TRACES_SAMPLERS } from './env-schema.js'
import type { Account } from '../token-source.js'

/** S: the HS256 secret's source in the config; the app hands auth a getter of the secret in force. */
export type AuthConfig<S = SecretSource<string>> =
  /** Microsoft Entra ID: keys, issuers and audiences derived from the tenant; `tid` must equal it. */
  | ({ mode: 'entra'; tenantId: string } & JwksSettings & AuthCommon)
  | ({ mode: 'jwks' } & JwksSettings & AuthCommon)
  | ({ mode: 'hs256'; secret: S } & AuthCommon)

/** A secret from its variable (validated at load), or from the file its _FILE twin names (read by the app). */
export type SecretSource<T> = { value: T } | { variable: string; file: string }

export interface JwksSettings {
  jwksUri: string
  jwksTimeoutMs: number
  jwksCooldownMs: number
}

export interface AuthCommon {
  /** A token's iss must be one of these. */
  issuers: string[]
  /** A token's aud (a string or an array) must contain one of these. */
  audiences: string[]
  callerClaims: string[]
  clockSkewSeconds: number
  /** The longest lifetime a token may claim (exp − iat, and exp − now). */
  maxLifetimeSeconds: number
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
  /** json in production; pretty (development) prints readable lines. */
  logFormat: 'json' | 'pretty'
  /** Without ACCOUNTS_FILE: the one account (AVI_*), under the alias `default`. */
  account: Account | undefined
  /** ACCOUNTS_FILE: the accounts by alias, and the default one (see src/accounts.ts). */
  accountsFile: string | undefined
  /** How often each account's id and location are read again (ARM Accounts_Get). */
  accountMetadataRefreshSeconds: number
  /** VI_WEB_BASE_URL without a trailing slash: the host of the embed widgets. */
  webBaseUrl: string
  arm: {
    endpoint: string
    apiVersion: string
    timeoutMs: number
    maxRetries: number
    retryAfterCapSeconds: number
    maxConcurrency: number
    /** ARM's write bucket per subscription and identity (ARM_WRITE_BURST, ARM_WRITES_PER_SECOND). */
    writeBucket: { burst: number; perSecond: number }
  }
  auth: AuthConfig
  identity: IdentityConfig
  /**
   * AZURE_CLIENT_IDS: user-assigned identities (client ids) to spread mints over, each with its own
   * ARM write bucket. Empty: the one identity of `identity`.
   */
  identityPool: string[]
  policyFile: string
  cache: { maxEntries: number; minRemainingSeconds: number; refreshAheadSeconds: number }
  /** POST /tokens/batch: at most maxItems token requests in one body. */
  batch: { maxItems: number }
  auditHmacKey: SecretSource<string>
  auditLogFile: string | undefined
  shutdown: { delayMs: number; timeoutMs: number }
  docsEnabled: boolean
  /** Serve /metrics on this port instead of the main one. */
  metricsPort: number | undefined
  /** Token routes shed a share of requests (503 OVERLOADED) while they wait over targetDelayMs (0: off). */
  overload: { targetDelayMs: number; intervalMs: number }
  /** The shared Redis tier, when REDIS_URL is set. */
  redis: RedisConfig | undefined
  tracing: TracingConfig | undefined
}

/** OpenTelemetry tracing, from the standard OTEL_* variables; undefined when off. */
export interface TracingConfig {
  serviceName: string
  sampler: { name: (typeof TRACES_SAMPLERS)[number]; ratio: number }
  /** OTLP over HTTP: the traces URL and its encoding. */
  otlp: { url: string; protocol: 'http/protobuf' | 'http/json' } | undefined
  /** Azure Monitor (Application Insights). */
  azureMonitor: { connectionString: string } | undefined
}

export interface RedisConfig {
  url: string
  keyring: SecretSource<Keyring>
  commandTimeoutMs: number
  /** Authenticate to Azure Cache for Redis with the broker's Entra identity; username is its object id. */
  entra: { username: string } | undefined
}
