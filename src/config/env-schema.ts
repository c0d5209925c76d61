import { Type, type Static } from 'typebox'
import { MIN_SECRET_LENGTH } from './secrets.js'

const HttpsUrl = Type.String({ pattern: '^https://[^\\s]+$' })
/** OTEL_TRACES_SAMPLER's values that the SDK implements (the spec's jaeger and xray samplers are not). */
export const TRACES_SAMPLERS = [
  'always_on',
  'always_off',
  'traceidratio',
  'parentbased_always_on',
  'parentbased_always_off',
  'parentbased_traceidratio'
] as const

const FilePath = Type.Optional(Type.String({ minLength: 1 }))
const GUID = '^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$'
// Comma-separated items without spaces inside them (spaces around the commas are allowed).
const CommaList = Type.String({ pattern: '^[^,\\s]+(\\s*,\\s*[^,\\s]+)*$' })
const Milliseconds = (defaultValue: number, minimum = 1) =>
  Type.Integer({ minimum, maximum: 600_000, default: defaultValue })

// One schema for every environment variable. Names match the variables exactly so an error can
// name the variable.
export const EnvSchema = Type.Object({
  PORT: Type.Integer({ minimum: 0, maximum: 65535, default: 8080 }),
  HOST: Type.String({ minLength: 1, default: '0.0.0.0' }),
  HTTP_HEADERS_TIMEOUT_MS: Type.Integer({ minimum: 1_000, maximum: 60_000, default: 10_000 }),
  LOG_LEVEL: Type.Enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'], { default: 'info' }),
  // pretty: readable lines for development (pino-pretty, a dev dependency); production stays json.
  LOG_FORMAT: Type.Enum(['json', 'pretty'], { default: 'json' }),

  // One account (alias `default`) from the AVI_* variables, or several from ACCOUNTS_FILE (src/accounts.ts).
  AVI_SUBSCRIPTION_ID: Type.Optional(Type.String({ pattern: GUID })),
  // Limits from the ARM spec (ResourceGroupNameParameter, AccountNameParameter).
  AVI_RESOURCE_GROUP: Type.Optional(Type.String({ minLength: 1, maxLength: 90, pattern: '^[-\\w._()]+$' })),
  AVI_ACCOUNT_NAME: Type.Optional(Type.String({ minLength: 3, maxLength: 50, pattern: '^[A-Za-z0-9-]+$' })),
  ACCOUNTS_FILE: FilePath,
  // How often each account's id and location are read again with ARM Accounts_Get.
  ACCOUNT_METADATA_REFRESH_SECONDS: Type.Integer({ minimum: 60, maximum: 86_400, default: 3600 }),
  // The Video Indexer website that serves the embed widgets (the US Government cloud has its own).
  VI_WEB_BASE_URL: Type.String({ pattern: '^https?://[^\\s?#]+$', default: 'https://www.videoindexer.ai' }),

  ARM_ENDPOINT: Type.String({ ...HttpsUrl, default: 'https://management.azure.com' }),
  ARM_API_VERSION: Type.String({ pattern: '^\\d{4}-\\d{2}-\\d{2}(-preview)?$', default: '2024-01-01' }),
  ARM_TIMEOUT_MS: Milliseconds(10_000, 100),
  ARM_MAX_RETRIES: Type.Integer({ minimum: 0, maximum: 5, default: 2 }),
  ARM_RETRY_AFTER_CAP_SECONDS: Type.Integer({ minimum: 0, maximum: 60, default: 5 }),
  ARM_MAX_CONCURRENCY: Type.Integer({ minimum: 1, maximum: 1000, default: 16 }),
  // ARM's write bucket per subscription and identity, which the broker paces its mints to.
  ARM_WRITE_BURST: Type.Integer({ minimum: 1, maximum: 100_000, default: 200 }),
  ARM_WRITES_PER_SECOND: Type.Integer({ minimum: 1, maximum: 10_000, default: 10 }),

  // Caller authentication: exactly one of AUTH_ENTRA_TENANT_ID, AUTH_JWKS_URI and AUTH_JWT_SECRET (src/config/auth.ts).
  AUTH_ENTRA_TENANT_ID: Type.Optional(Type.String({ pattern: GUID })),
  AUTH_ENTRA_AUDIENCE: Type.Optional(CommaList),
  AUTH_ENTRA_AUTHORITY_HOST: Type.String({
    pattern: '^https?://[^\\s/]+/*$',
    default: 'https://login.microsoftonline.com'
  }),
  AUTH_ENTRA_TOKEN_VERSIONS: Type.Enum(['1', '2', '1,2', '2,1'], { default: '1,2' }),
  AUTH_JWKS_URI: Type.Optional(Type.String({ pattern: '^https?://[^\\s]+$' })),
  AUTH_JWT_SECRET: Type.Optional(Type.String({ minLength: MIN_SECRET_LENGTH })),
  AUTH_JWT_SECRET_FILE: FilePath,
  AUTH_ISSUER: Type.Optional(CommaList),
  AUTH_AUDIENCE: Type.Optional(CommaList),
  AUTH_CALLER_CLAIMS: Type.String({ pattern: '^[A-Za-z0-9_]+(,[A-Za-z0-9_]+)*$', default: 'azp,appid,sub' }),
  AUTH_CLOCK_SKEW_SECONDS: Type.Integer({ minimum: 0, maximum: 300, default: 60 }),
  AUTH_MAX_TOKEN_LIFETIME_SECONDS: Type.Integer({ minimum: 60, maximum: 2_592_000, default: 86_400 }),
  AUTH_JWKS_TIMEOUT_MS: Milliseconds(3_000),
  AUTH_JWKS_COOLDOWN_MS: Milliseconds(30_000, 0),

  POLICY_FILE: Type.String({ minLength: 1 }),

  CACHE_MAX_ENTRIES: Type.Integer({ minimum: 1, maximum: 10_000_000, default: 10_000 }),
  TOKEN_MIN_REMAINING_SECONDS: Type.Integer({ minimum: 0, maximum: 3000, default: 300 }),
  TOKEN_REFRESH_AHEAD_SECONDS: Type.Integer({ minimum: 0, maximum: 3000, default: 900 }),
  BATCH_MAX_ITEMS: Type.Integer({ minimum: 1, maximum: 1000, default: 100 }),

  // Required, from the variable or the file (see secretProblems).
  AUDIT_HMAC_KEY: Type.Optional(Type.String({ minLength: MIN_SECRET_LENGTH })),
  AUDIT_HMAC_KEY_FILE: FilePath,
  AUDIT_LOG_FILE: Type.Optional(Type.String({ minLength: 1 })),

  REDIS_URL: Type.Optional(Type.String({ pattern: '^rediss?://[^\\s]+$' })),
  CACHE_ENCRYPTION_KEY: Type.Optional(Type.String({ minLength: 1 })),
  CACHE_ENCRYPTION_KEY_FILE: FilePath,
  REDIS_COMMAND_TIMEOUT_MS: Type.Integer({ minimum: 10, maximum: 10_000, default: 500 }),
  REDIS_ENTRA_AUTH: Type.Enum(['true', 'false'], { default: 'false' }),
  REDIS_USERNAME: Type.Optional(Type.String({ minLength: 1 })),

  SHUTDOWN_DELAY_MS: Type.Integer({ minimum: 0, maximum: 600_000, default: 5_000 }),
  SHUTDOWN_TIMEOUT_MS: Milliseconds(10_000, 100),

  DOCS_ENABLED: Type.Enum(['true', 'false'], { default: 'true' }),
  OVERLOAD_TARGET_DELAY_MS: Type.Integer({ minimum: 0, maximum: 10_000, default: 250 }),
  OVERLOAD_INTERVAL_MS: Type.Integer({ minimum: 50, maximum: 10_000, default: 100 }),
  METRICS_PORT: Type.Optional(Type.Integer({ minimum: 1, maximum: 65535 })),

  // OpenTelemetry's standard variables (opentelemetry.io/docs/specs/otel/configuration/sdk-environment-variables):
  // tracing is off unless an OTLP endpoint or an Application Insights connection string is set.
  OTEL_SDK_DISABLED: Type.Enum(['true', 'false'], { default: 'false' }),
  OTEL_EXPORTER_OTLP_ENDPOINT: Type.Optional(Type.String({ pattern: '^https?://[^\\s]+$' })),
  OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: Type.Optional(Type.String({ pattern: '^https?://[^\\s]+$' })),
  OTEL_EXPORTER_OTLP_PROTOCOL: Type.Enum(['http/protobuf', 'http/json'], { default: 'http/protobuf' }),
  OTEL_SERVICE_NAME: Type.String({ minLength: 1, maxLength: 256, default: 'vi-token-broker' }),
  OTEL_TRACES_SAMPLER: Type.Enum([...TRACES_SAMPLERS], { default: 'parentbased_always_on' }),
  OTEL_TRACES_SAMPLER_ARG: Type.Number({ minimum: 0, maximum: 1, default: 1 }),
  APPLICATIONINSIGHTS_CONNECTION_STRING: Type.Optional(Type.String({ pattern: 'InstrumentationKey=' })),

  AZURE_CLIENT_ID: Type.Optional(Type.String({ minLength: 1 })),
  // The identity pool: client ids of user-assigned identities, comma separated.
  AZURE_CLIENT_IDS: Type.Optional(Type.String({ pattern: '^\\s*[\\w-]+(\\s*,\\s*[\\w-]+){0,49}\\s*$' })),
  AZURE_TENANT_ID: Type.Optional(Type.String({ minLength: 1 })),
  AZURE_FEDERATED_TOKEN_FILE: Type.Optional(Type.String({ minLength: 1 })),
  AZURE_AUTHORITY_HOST: Type.Optional(HttpsUrl)
})

export type Env = Static<typeof EnvSchema>

/**
 * Variables the broker no longer reads, and what replaced them. Setting one fails at boot: it would
 * otherwise be ignored silently (OVERLOAD_MAX_EVENT_LOOP_UTILIZATION=0 used to turn shedding off).
 */
export const RETIRED_VARIABLES: Record<string, string> = {
  OVERLOAD_MAX_EVENT_LOOP_DELAY_MS: 'OVERLOAD_TARGET_DELAY_MS',
  OVERLOAD_MAX_EVENT_LOOP_UTILIZATION: 'OVERLOAD_TARGET_DELAY_MS',
  OVERLOAD_SAMPLE_INTERVAL_MS: 'OVERLOAD_INTERVAL_MS'
}

/** Variables whose values never appear in an error message. */
export const SECRET_VARIABLES = new Set([
  'AUTH_JWT_SECRET',
  'AUDIT_HMAC_KEY',
  'CACHE_ENCRYPTION_KEY',
  'REDIS_URL',
  'APPLICATIONINSIGHTS_CONNECTION_STRING'
])
