import { DEFAULT_CERTIFICATE_HOSTS } from './emulator.js'
import type { EmulatorOptions } from './emulator.js'
import { ARM_WRITE_LIMITS } from './rate-bucket.js'

export interface CliConfig {
  options: EmulatorOptions
  /** Where to write the CA certificate (PEM), if anywhere. */
  caFile?: string
  logLevel: string
}

const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']

function integer (env: NodeJS.ProcessEnv, name: string, fallback: number, min: number, max: number): number {
  const raw = env[name]
  if (raw === undefined || raw === '') return fallback
  const value = Number(raw)
  if (!/^\d+$/.test(raw) || value < min || value > max) {
    throw new Error(`${name} must be an integer from ${min} to ${max}, got '${raw}'`)
  }
  return value
}

function guid (env: NodeJS.ProcessEnv, name: string): string {
  const raw = env[name] as string
  if (!/^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/.test(raw)) {
    throw new Error(`${name} must be a lower-case GUID, got '${raw}'`)
  }
  return raw
}

/** Reads the emulator CLI's environment; throws an Error naming the offending variable. */
export function readCliConfig (env: NodeJS.ProcessEnv): CliConfig {
  const extraHosts = (env.EMULATOR_CERT_HOSTS ?? '')
    .split(',')
    .map((host) => host.trim())
    .filter((host) => host !== '')
  const logLevel = env.EMULATOR_LOG_LEVEL || 'info'
  if (!LOG_LEVELS.includes(logLevel)) {
    throw new Error(`EMULATOR_LOG_LEVEL must be one of ${LOG_LEVELS.join(', ')}, got '${logLevel}'`)
  }
  return {
    options: {
      host: env.EMULATOR_HOST || '127.0.0.1',
      armPort: integer(env, 'EMULATOR_ARM_PORT', 8443, 0, 65535),
      port: integer(env, 'EMULATOR_PORT', 8081, 0, 65535),
      certificateHosts: [...new Set([...DEFAULT_CERTIFICATE_HOSTS, ...extraHosts])],
      tokenLifetimeSeconds: integer(env, 'EMULATOR_TOKEN_LIFETIME_SECONDS', 3600, 1, 86_400),
      writeLimits: {
        capacity: integer(env, 'EMULATOR_WRITE_BURST', ARM_WRITE_LIMITS.capacity, 1, 100_000),
        refillPerSecond: integer(env, 'EMULATOR_WRITES_PER_SECOND', ARM_WRITE_LIMITS.refillPerSecond, 1, 10_000),
        subscriptionMultiplier: integer(
          env,
          'EMULATOR_SUBSCRIPTION_WRITE_MULTIPLIER',
          ARM_WRITE_LIMITS.subscriptionMultiplier,
          1,
          1000
        )
      },
      ...(env.EMULATOR_IDENTITY_HEADER ? { identityHeader: env.EMULATOR_IDENTITY_HEADER } : {}),
      // Fixed values, for a broker configured ahead of time (compose): the tenant, the authority the broker
      // reaches the emulator at, and the broker app's client id.
      ...(env.EMULATOR_TENANT_ID ? { tenantId: guid(env, 'EMULATOR_TENANT_ID') } : {}),
      ...(env.EMULATOR_AUTHORITY_HOST ? { authorityHost: env.EMULATOR_AUTHORITY_HOST } : {}),
      ...(env.EMULATOR_BROKER_CLIENT_ID ? { brokerClientId: guid(env, 'EMULATOR_BROKER_CLIENT_ID') } : {})
    },
    ...(env.EMULATOR_CA_FILE ? { caFile: env.EMULATOR_CA_FILE } : {}),
    logLevel
  }
}
