import { toAuth } from './auth.js'
import { readIdentityPool, readKeyring } from './cross-checks.js'
import type { Env } from './env-schema.js'
import { parseTextSecret, secretSource } from './secrets.js'
import type { Config, IdentityConfig, RedisConfig, TracingConfig } from './types.js'

/** Maps validated, cross-checked variables to the typed config; plain mapping, no rules. */
export function toConfig (env: Env): Config {
  return {
    port: env.PORT,
    host: env.HOST,
    headersTimeoutMs: env.HTTP_HEADERS_TIMEOUT_MS,
    logLevel: env.LOG_LEVEL,
    logFormat: env.LOG_FORMAT,
    account:
      env.ACCOUNTS_FILE === undefined
        ? {
            alias: 'default',
            subscriptionId: env.AVI_SUBSCRIPTION_ID as string,
            resourceGroup: env.AVI_RESOURCE_GROUP as string,
            name: env.AVI_ACCOUNT_NAME as string
          }
        : undefined,
    accountsFile: env.ACCOUNTS_FILE,
    accountMetadataRefreshSeconds: env.ACCOUNT_METADATA_REFRESH_SECONDS,
    webBaseUrl: env.VI_WEB_BASE_URL.replace(/\/+$/, ''),
    arm: {
      endpoint: env.ARM_ENDPOINT.replace(/\/+$/, ''),
      apiVersion: env.ARM_API_VERSION,
      timeoutMs: env.ARM_TIMEOUT_MS,
      maxRetries: env.ARM_MAX_RETRIES,
      retryAfterCapSeconds: env.ARM_RETRY_AFTER_CAP_SECONDS,
      maxConcurrency: env.ARM_MAX_CONCURRENCY,
      writeBucket: { burst: env.ARM_WRITE_BURST, perSecond: env.ARM_WRITES_PER_SECOND }
    },
    auth: toAuth(env),
    identity: toIdentity(env),
    identityPool: readIdentityPool(env.AZURE_CLIENT_IDS),
    policyFile: env.POLICY_FILE,
    cache: {
      maxEntries: env.CACHE_MAX_ENTRIES,
      minRemainingSeconds: env.TOKEN_MIN_REMAINING_SECONDS,
      refreshAheadSeconds: env.TOKEN_REFRESH_AHEAD_SECONDS
    },
    batch: { maxItems: env.BATCH_MAX_ITEMS },
    auditHmacKey: secretSource(env, 'AUDIT_HMAC_KEY', parseTextSecret),
    auditLogFile: env.AUDIT_LOG_FILE,
    shutdown: { delayMs: env.SHUTDOWN_DELAY_MS, timeoutMs: env.SHUTDOWN_TIMEOUT_MS },
    docsEnabled: env.DOCS_ENABLED === 'true',
    metricsPort: env.METRICS_PORT,
    overload: { targetDelayMs: env.OVERLOAD_TARGET_DELAY_MS, intervalMs: env.OVERLOAD_INTERVAL_MS },
    redis: toRedis(env),
    tracing: toTracing(env)
  }
}

function toTracing (env: Env): TracingConfig | undefined {
  const connectionString = env.APPLICATIONINSIGHTS_CONNECTION_STRING
  const base = env.OTEL_EXPORTER_OTLP_ENDPOINT
  // The spec: the signal-specific endpoint is used as is; the general one gets /v1/traces appended.
  const url = env.OTEL_EXPORTER_OTLP_TRACES_ENDPOINT ?? (base === undefined ? undefined : `${base.replace(/\/+$/, '')}/v1/traces`)
  if (env.OTEL_SDK_DISABLED === 'true' || (url === undefined && connectionString === undefined)) return undefined
  return {
    serviceName: env.OTEL_SERVICE_NAME,
    sampler: { name: env.OTEL_TRACES_SAMPLER, ratio: env.OTEL_TRACES_SAMPLER_ARG },
    otlp: url === undefined ? undefined : { url, protocol: env.OTEL_EXPORTER_OTLP_PROTOCOL },
    azureMonitor: connectionString === undefined ? undefined : { connectionString }
  }
}

function toRedis (env: Env): RedisConfig | undefined {
  if (env.REDIS_URL === undefined) return undefined
  return {
    url: env.REDIS_URL,
    keyring: secretSource(env, 'CACHE_ENCRYPTION_KEY', readKeyring),
    commandTimeoutMs: env.REDIS_COMMAND_TIMEOUT_MS,
    entra: env.REDIS_ENTRA_AUTH === 'true' ? { username: env.REDIS_USERNAME as string } : undefined
  }
}

function toIdentity (env: Env): IdentityConfig {
  if (env.AZURE_FEDERATED_TOKEN_FILE === undefined) {
    return env.AZURE_CLIENT_ID === undefined ? { kind: 'managed' } : { kind: 'managed', clientId: env.AZURE_CLIENT_ID }
  }
  return {
    kind: 'workload',
    clientId: env.AZURE_CLIENT_ID ?? (readIdentityPool(env.AZURE_CLIENT_IDS)[0] as string),
    tenantId: env.AZURE_TENANT_ID as string,
    tokenFilePath: env.AZURE_FEDERATED_TOKEN_FILE,
    ...(env.AZURE_AUTHORITY_HOST !== undefined ? { authorityHost: env.AZURE_AUTHORITY_HOST } : {})
  }
}
