import { Value } from 'typebox/value'
import { missingAuthVariables } from './config/auth.js'
import { ConfigError } from './config/config-error.js'
import { checkCombinations, missingAccountVariables } from './config/cross-checks.js'
import { EnvSchema, RETIRED_VARIABLES, SECRET_VARIABLES, type Env } from './config/env-schema.js'
import { checkPlaceholders } from './config/placeholders.js'
import { secretProblems } from './config/secrets.js'
import { toConfig } from './config/to-config.js'
import type { Config } from './config/types.js'

export { ConfigError } from './config/config-error.js'
export { EnvSchema } from './config/env-schema.js'
export type { AuthConfig, Config, IdentityConfig, RedisConfig, SecretSource, TracingConfig } from './config/types.js'

/** Validates the environment once and returns a frozen config; throws a ConfigError naming the variable. */
export function loadConfig (source: Record<string, string | undefined>): Readonly<Config> {
  const retired = Object.keys(RETIRED_VARIABLES).filter((name) => source[name] !== undefined)
  if (retired.length > 0) {
    const lines = retired.map((name) => `  ${name}: no longer read; use ${RETIRED_VARIABLES[name]} (see .env.example)`)
    throw new ConfigError(['Invalid configuration:', ...lines].join('\n'))
  }
  const raw: Record<string, string> = {}
  for (const key of Object.keys(EnvSchema.properties)) {
    const value = source[key]
    if (value !== undefined && value !== '') raw[key] = value
  }
  const env = Value.Default(EnvSchema, toIntegers(raw))
  const errors = Value.Errors(EnvSchema, env)
  const problems = [
    ...errors.map((e) => describe(e, raw)),
    ...secretProblems(raw),
    ...missingAuthVariables(raw),
    ...missingAccountVariables(raw)
  ]
  const lines = new Set(problems.map((problem) => '  ' + problem))
  if (lines.size > 0) throw new ConfigError(['Invalid configuration:', ...lines].join('\n'))
  checkPlaceholders(env as Env)
  checkCombinations(env as Env)
  return deepFreeze(toConfig(env as Env))
}

// Only plain decimal digits become numbers ("0.5" only where a fraction is allowed): "80.5", "true" or
// "0x50" stay strings and fail validation.
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

function deepFreeze<T> (value: T): Readonly<T> {
  if (value !== null && typeof value === 'object') {
    for (const child of Object.values(value)) deepFreeze(child)
    Object.freeze(value)
  }
  return value
}
