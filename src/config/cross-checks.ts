import { parseKeyring, type Keyring } from '../token-sealer.js'
import { assertHttpsOrLoopback, checkAuth } from './auth.js'
import { invalidConfig } from './config-error.js'
import type { Env } from './env-schema.js'
import { hasSecret } from './secrets.js'

/**
 * The rules that tie variables together, which a per-variable schema cannot say. Each throws a
 * ConfigError naming the variables at fault.
 */
export function checkCombinations (env: Env): void {
  checkAuth(env)
  if (env.ACCOUNTS_FILE !== undefined) {
    const both = AVI_VARIABLES.filter((name) => env[name] !== undefined)
    if (both.length > 0) throw invalidConfig(both.join(', '), 'not used with ACCOUNTS_FILE (name every account there)')
  }
  assertHttpsOrLoopback('VI_WEB_BASE_URL', env.VI_WEB_BASE_URL)
  if (env.TOKEN_MIN_REMAINING_SECONDS + env.TOKEN_REFRESH_AHEAD_SECONDS >= 3600) {
    throw invalidConfig(
      'TOKEN_MIN_REMAINING_SECONDS, TOKEN_REFRESH_AHEAD_SECONDS',
      'together they must stay under the 3600 s token lifetime'
    )
  }
  if (env.SHUTDOWN_DELAY_MS >= env.SHUTDOWN_TIMEOUT_MS) {
    throw invalidConfig(
      'SHUTDOWN_DELAY_MS, SHUTDOWN_TIMEOUT_MS',
      'the delay must be shorter than the timeout, which also covers finishing in-flight requests'
    )
  }
  if (env.REDIS_URL !== undefined && !hasSecret(env, 'CACHE_ENCRYPTION_KEY')) {
    throw invalidConfig(
      'CACHE_ENCRYPTION_KEY',
      'required with REDIS_URL, or CACHE_ENCRYPTION_KEY_FILE (tokens in Redis are encrypted)'
    )
  }
  if (env.REDIS_URL !== undefined && env.REDIS_ENTRA_AUTH === 'true' && env.REDIS_USERNAME === undefined) {
    throw invalidConfig(
      'REDIS_USERNAME',
      "required with REDIS_ENTRA_AUTH=true (the object id of the broker's identity)"
    )
  }
  if (
    env.AZURE_FEDERATED_TOKEN_FILE !== undefined &&
    ((env.AZURE_CLIENT_ID === undefined && env.AZURE_CLIENT_IDS === undefined) || env.AZURE_TENANT_ID === undefined)
  ) {
    throw invalidConfig(
      'AZURE_CLIENT_ID, AZURE_TENANT_ID',
      'required with AZURE_FEDERATED_TOKEN_FILE (workload identity; AZURE_CLIENT_IDS may name the client ids)'
    )
  }
  const pool = readIdentityPool(env.AZURE_CLIENT_IDS)
  if (new Set(pool.map((id) => id.toLowerCase())).size !== pool.length) {
    throw invalidConfig('AZURE_CLIENT_IDS', 'names an identity twice')
  }
}

const AVI_VARIABLES = ['AVI_SUBSCRIPTION_ID', 'AVI_RESOURCE_GROUP', 'AVI_ACCOUNT_NAME'] as const

/** Without ACCOUNTS_FILE, the AVI_* variables name the one account: "NAME: required but not set" lines. */
export function missingAccountVariables (raw: Record<string, unknown>): string[] {
  if (raw.ACCOUNTS_FILE !== undefined) return []
  return AVI_VARIABLES.filter((name) => raw[name] === undefined).map(
    (name) => `${name}: required but not set (or name the accounts in ACCOUNTS_FILE)`
  )
}

/** The key ring from CACHE_ENCRYPTION_KEY, or a ConfigError saying what is wrong with it. */
export function readKeyring (value: string): Keyring {
  try {
    return parseKeyring(value)
  } catch (error) {
    throw invalidConfig('CACHE_ENCRYPTION_KEY', (error as Error).message)
  }
}

/** The client ids of AZURE_CLIENT_IDS, in order; empty when unset. */
export function readIdentityPool (value: string | undefined): string[] {
  return value === undefined ? [] : value.split(',').map((id) => id.trim())
}
