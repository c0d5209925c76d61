import { Type, type Static } from 'typebox'
import { isIPv4 } from 'node:net'
import { Value } from 'typebox/value'
import { parseKeyring, type Keyring } from './token-sealer.js'

const HttpsUrl = Type.String({ pattern: '^https://[^\\s]+$' })
const Milliseconds = (defaultValue: number, minimum = 1) =>
  Type.Integer({ minimum, maximum: 600_000, default: defaultValue })

// One schema for every environment variable. Names match the variables exactly so an error can
// name the variable.
export const EnvSchema = Type.Object({
  PORT: Type.Integer({ minimum: 0, maximum: 65535, default: 8080 }),
  HOST: Type.String({ minLength: 1, default: '0.0.0.0' }),
  LOG_LEVEL: Type.Enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'], { default: 'info' }),

  AVI_SUBSCRIPTION_ID: Type.String({
    pattern: '^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$'
  }),
  // Limits from the ARM spec (ResourceGroupNameParameter, AccountNameParameter).
  AVI_RESOURCE_GROUP: Type.String({ minLength: 1, maxLength: 90, pattern: '^[-\\w._()]+$' }),
  AVI_ACCOUNT_NAME: Type.String({ minLength: 3, maxLength: 50, pattern: '^[A-Za-z0-9-]+$' }),

  ARM_ENDPOINT: Type.String({ ...HttpsUrl, default: 'https://management.azure.com' }),
  ARM_API_VERSION: Type.String({ pattern: '^\\d{4}-\\d{2}-\\d{2}(-preview)?$', default: '2024-01-01' }),
  ARM_TIMEOUT_MS: Milliseconds(10_000, 100),
  ARM_MAX_RETRIES: Type.Integer({ minimum: 0, maximum: 5, default: 2 }),
  ARM_RETRY_AFTER_CAP_SECONDS: Type.Integer({ minimum: 0, maximum: 60, default: 5 }),
  ARM_MAX_CONCURRENCY: Type.Integer({ minimum: 1, maximum: 1000, default: 16 }),

  AUTH_JWKS_URI: Type.Optional(Type.String({ pattern: '^https?://[^\\s]+$' })),
  AUTH_JWT_SECRET: Type.Optional(Type.String({ minLength: 32 })),
  AUTH_ISSUER: Type.String({ minLength: 1 }),
  AUTH_AUDIENCE: Type.String({ minLength: 1 }),
  AUTH_CALLER_CLAIMS: Type.String({ pattern: '^[A-Za-z0-9_]+(,[A-Za-z0-9_]+)*$', default: 'azp,appid,sub' }),
  AUTH_CLOCK_SKEW_SECONDS: Type.Integer({ minimum: 0, maximum: 300, default: 60 }),
  AUTH_JWKS_TIMEOUT_MS: Milliseconds(3_000),
  AUTH_JWKS_COOLDOWN_MS: Milliseconds(30_000, 0),

  POLICY_FILE: Type.String({ minLength: 1 }),

  CACHE_MAX_ENTRIES: Type.Integer({ minimum: 1, maximum: 10_000_000, default: 10_000 }),
  TOKEN_MIN_REMAINING_SECONDS: Type.Integer({ minimum: 0, maximum: 3000, default: 300 }),
  TOKEN_REFRESH_AHEAD_SECONDS: Type.Integer({ minimum: 0, maximum: 3000, default: 900 }),

  AUDIT_HMAC_KEY: Type.String({ minLength: 32 }),
  AUDIT_LOG_FILE: Type.Optional(Type.String({ minLength: 1 })),

  REDIS_URL: Type.Optional(Type.String({ pattern: '^rediss?://[^\\s]+$' })),
  CACHE_ENCRYPTION_KEY: Type.Optional(Type.String({ minLength: 1 })),
  REDIS_COMMAND_TIMEOUT_MS: Type.Integer({ minimum: 10, maximum: 10_000, default: 500 }),
  REDIS_ENTRA_AUTH: Type.Enum(['true', 'false'], { default: 'false' }),
  REDIS_USERNAME: Type.Optional(Type.String({ minLength: 1 })),

  SHUTDOWN_DELAY_MS: Type.Integer({ minimum: 0, maximum: 600_000, default: 5_000 }),
  SHUTDOWN_TIMEOUT_MS: Milliseconds(10_000, 100),

  DOCS_ENABLED: Type.Enum(['true', 'false'], { default: 'true' }),
  OVERLOAD_MAX_EVENT_LOOP_DELAY_MS: Type.Integer({ minimum: 0, maximum: 60_000, default: 1_000 }),
  OVERLOAD_MAX_EVENT_LOOP_UTILIZATION: Type.Number({ minimum: 0, maximum: 1, default: 0.98 }),
  OVERLOAD_SAMPLE_INTERVAL_MS: Type.Integer({ minimum: 10, maximum: 60_000, default: 1_000 }),
  METRICS_PORT: Type.Optional(Type.Integer({ minimum: 1, maximum: 65535 })),

  AZURE_CLIENT_ID: Type.Optional(Type.String({ minLength: 1 })),
  AZURE_TENANT_ID: Type.Optional(Type.String({ minLength: 1 })),
  AZURE_FEDERATED_TOKEN_FILE: Type.Optional(Type.String({ minLength: 1 })),
  AZURE_AUTHORITY_HOST: Type.Optional(HttpsUrl)
})

type Env = Static<typeof EnvSchema>

export type AuthConfig =
  | ({ mode: 'jwks'; jwksUri: string; jwksTimeoutMs: number; jwksCooldownMs: number } & AuthCommon)
  | ({ mode: 'hs256'; secret: string } & AuthCommon)

interface AuthCommon {
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
  /** Token routes answer 503 OVERLOADED beyond these (0 turns a check off). */
  overload: { maxEventLoopDelayMs: number; maxEventLoopUtilization: number; sampleIntervalMs: number }
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

export class ConfigError extends Error {
  override name = 'ConfigError'
}

const SECRET_VARIABLES = new Set(['AUTH_JWT_SECRET', 'AUDIT_HMAC_KEY', 'CACHE_ENCRYPTION_KEY', 'REDIS_URL'])

/** Validates the environment once and returns a frozen config; throws a ConfigError naming the variable. */
export function loadConfig (source: Record<string, string | undefined>): Readonly<Config> {
  const raw: Record<string, string> = {}
  for (const key of Object.keys(EnvSchema.properties)) {
    const value = source[key]
    if (value !== undefined && value !== '') raw[key] = value
  }
  const env = Value.Default(EnvSchema, toIntegers(raw))
  const errors = Value.Errors(EnvSchema, env)
  if (errors.length > 0) {
    const lines = new Set(errors.map((e) => '  ' + describe(e, raw)))
    throw new ConfigError(['Invalid configuration:', ...lines].join('\n'))
  }
  return deepFreeze(toConfig(env as Env))
}

// Only plain decimal digits become numbers ("80.5" only where a fraction is allowed): "true" or "0x50"
// stay strings and fail validation.
function toIntegers (raw: Record<string, string>): Record<string, string | number> {
  const converted: Record<string, string | number> = { ...raw }
  for (const [name, value] of Object.entries(raw)) {
    const schema = EnvSchema.properties[name as keyof typeof EnvSchema.properties] as { type?: string }
    if (schema.type === 'integer' && /^\d{1,15}$/.test(value)) converted[name] = Number(value)
    if (schema.type === 'number' && /^\d{1,15}(\.\d{1,15})?$/.test(value)) converted[name] = Number(value)
  }
  return converted
}

function describe (
  error: { instancePath: string; message: string; params: unknown },
  raw: Record<string, string>
): string {
  const missing = (error.params as { requiredProperties?: string[] } | undefined)?.requiredProperties
  if (error.instancePath === '' && missing) return `${missing.join(', ')}: required but not set`
  const name = error.instancePath.replace(/^\//, '')
  const shown = SECRET_VARIABLES.has(name) ? '(value hidden)' : JSON.stringify(raw[name])
  return `${name}: ${error.message} (got ${shown})`
}

function toConfig (env: Env): Config {
  const hasJwks = env.AUTH_JWKS_URI !== undefined
  const hasSecret = env.AUTH_JWT_SECRET !== undefined
  if (hasJwks === hasSecret) {
    throw new ConfigError(
      'Invalid configuration:\n  AUTH_JWKS_URI, AUTH_JWT_SECRET: ' +
        'set exactly one (RS256 via JWKS, or HS256 with a shared secret)'
    )
  }
  if (hasJwks) assertSafeJwksUri(env.AUTH_JWKS_URI as string)
  if (env.TOKEN_MIN_REMAINING_SECONDS + env.TOKEN_REFRESH_AHEAD_SECONDS >= 3600) {
    throw new ConfigError(
      'Invalid configuration:\n  TOKEN_MIN_REMAINING_SECONDS, TOKEN_REFRESH_AHEAD_SECONDS: ' +
        'together they must stay under the 3600 s token lifetime'
    )
  }
  if (env.SHUTDOWN_DELAY_MS >= env.SHUTDOWN_TIMEOUT_MS) {
    throw new ConfigError(
      'Invalid configuration:\n  SHUTDOWN_DELAY_MS, SHUTDOWN_TIMEOUT_MS: ' +
        'the delay must be shorter than the timeout, which also covers finishing in-flight requests'
    )
  }
  const common: AuthCommon = {
    issuer: env.AUTH_ISSUER,
    audience: env.AUTH_AUDIENCE,
    callerClaims: env.AUTH_CALLER_CLAIMS.split(','),
    clockSkewSeconds: env.AUTH_CLOCK_SKEW_SECONDS
  }
  return {
    port: env.PORT,
    host: env.HOST,
    logLevel: env.LOG_LEVEL,
    account: {
      subscriptionId: env.AVI_SUBSCRIPTION_ID,
      resourceGroup: env.AVI_RESOURCE_GROUP,
      name: env.AVI_ACCOUNT_NAME
    },
    arm: {
      endpoint: env.ARM_ENDPOINT.replace(/\/+$/, ''),
      apiVersion: env.ARM_API_VERSION,
      timeoutMs: env.ARM_TIMEOUT_MS,
      maxRetries: env.ARM_MAX_RETRIES,
      retryAfterCapSeconds: env.ARM_RETRY_AFTER_CAP_SECONDS,
      maxConcurrency: env.ARM_MAX_CONCURRENCY
    },
    auth: hasJwks
      ? {
          mode: 'jwks',
          jwksUri: env.AUTH_JWKS_URI as string,
          jwksTimeoutMs: env.AUTH_JWKS_TIMEOUT_MS,
          jwksCooldownMs: env.AUTH_JWKS_COOLDOWN_MS,
          ...common
        }
      : { mode: 'hs256', secret: env.AUTH_JWT_SECRET as string, ...common },
    identity: toIdentity(env),
    policyFile: env.POLICY_FILE,
    cache: {
      maxEntries: env.CACHE_MAX_ENTRIES,
      minRemainingSeconds: env.TOKEN_MIN_REMAINING_SECONDS,
      refreshAheadSeconds: env.TOKEN_REFRESH_AHEAD_SECONDS
    },
    auditHmacKey: env.AUDIT_HMAC_KEY,
    auditLogFile: env.AUDIT_LOG_FILE,
    shutdown: { delayMs: env.SHUTDOWN_DELAY_MS, timeoutMs: env.SHUTDOWN_TIMEOUT_MS },
    docsEnabled: env.DOCS_ENABLED === 'true',
    metricsPort: env.METRICS_PORT,
    overload: {
      maxEventLoopDelayMs: env.OVERLOAD_MAX_EVENT_LOOP_DELAY_MS,
      maxEventLoopUtilization: env.OVERLOAD_MAX_EVENT_LOOP_UTILIZATION,
      sampleIntervalMs: env.OVERLOAD_SAMPLE_INTERVAL_MS
    },
    redis: toRedis(env)
  }
}

function toRedis (env: Env): RedisConfig | undefined {
  if (env.REDIS_URL === undefined) return undefined
  if (env.CACHE_ENCRYPTION_KEY === undefined) {
    throw new ConfigError(
      'Invalid configuration:\n  CACHE_ENCRYPTION_KEY: required with REDIS_URL (tokens in Redis are encrypted)'
    )
  }
  let keyring: Keyring
  try {
    keyring = parseKeyring(env.CACHE_ENCRYPTION_KEY)
  } catch (error) {
    throw new ConfigError(`Invalid configuration:\n  CACHE_ENCRYPTION_KEY: ${(error as Error).message}`)
  }
  const entraAuth = env.REDIS_ENTRA_AUTH === 'true'
  if (entraAuth && env.REDIS_USERNAME === undefined) {
    throw new ConfigError(
      'Invalid configuration:\n  REDIS_USERNAME: ' +
        "required with REDIS_ENTRA_AUTH=true (the object id of the broker's identity)"
    )
  }
  return {
    url: env.REDIS_URL,
    keyring,
    commandTimeoutMs: env.REDIS_COMMAND_TIMEOUT_MS,
    entra: entraAuth ? { username: env.REDIS_USERNAME as string } : undefined
  }
}

function toIdentity (env: Env): IdentityConfig {
  if (env.AZURE_FEDERATED_TOKEN_FILE === undefined) {
    return env.AZURE_CLIENT_ID === undefined ? { kind: 'managed' } : { kind: 'managed', clientId: env.AZURE_CLIENT_ID }
  }
  if (env.AZURE_CLIENT_ID === undefined || env.AZURE_TENANT_ID === undefined) {
    throw new ConfigError(
      'Invalid configuration:\n  AZURE_CLIENT_ID, AZURE_TENANT_ID: ' +
        'required with AZURE_FEDERATED_TOKEN_FILE (workload identity)'
    )
  }
  const identity: IdentityConfig = {
    kind: 'workload',
    clientId: env.AZURE_CLIENT_ID,
    tenantId: env.AZURE_TENANT_ID,
    tokenFilePath: env.AZURE_FEDERATED_TOKEN_FILE
  }
  if (env.AZURE_AUTHORITY_HOST !== undefined) identity.authorityHost = env.AZURE_AUTHORITY_HOST
  return identity
}

// Plain http is only acceptable on loopback (the bundled emulator); anywhere else a JWKS must be https.
function assertSafeJwksUri (uri: string): void {
  let url: URL
  try {
    url = new URL(uri)
  } catch {
    throw new ConfigError('Invalid configuration:\n  AUTH_JWKS_URI: is not a valid URL')
  }
  const { protocol, hostname } = url
  const loopback = hostname === 'localhost' || hostname === '[::1]' || (isIPv4(hostname) && hostname.startsWith('127.'))
  if (protocol !== 'https:' && !loopback) {
    throw new ConfigError(
      'Invalid configuration:\n  AUTH_JWKS_URI: must be https (plain http is allowed on loopback only)'
    )
  }
}

function deepFreeze<T> (value: T): Readonly<T> {
  if (value !== null && typeof value === 'object') {
    for (const child of Object.values(value)) deepFreeze(child)
    Object.freeze(value)
  }
  return value
}
