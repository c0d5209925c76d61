import type { Env } from './env-schema.js'
import type { SecretSource } from './types.js'

/** The secret variables; each may instead name a file in its _FILE twin (Key Vault CSI driver, Secret volume). */
export const FILE_SECRETS = ['AUTH_JWT_SECRET', 'AUDIT_HMAC_KEY', 'CACHE_ENCRYPTION_KEY'] as const
export type FileSecret = (typeof FILE_SECRETS)[number]

/** AUTH_JWT_SECRET and AUDIT_HMAC_KEY, from the variable or the file. */
export const MIN_SECRET_LENGTH = 32

/** Set through the variable or through its _FILE twin. */
export function hasSecret (env: Partial<Record<string, unknown>>, name: FileSecret): boolean {
  return env[name] !== undefined || env[`${name}_FILE`] !== undefined
}

/** Error lines for secrets given twice, and for the one secret that is always required. */
export function secretProblems (raw: Record<string, unknown>): string[] {
  const problems = FILE_SECRETS.filter((name) => raw[name] !== undefined && raw[`${name}_FILE`] !== undefined).map(
    (name) => `${name}, ${name}_FILE: set one or the other, not both`
  )
  if (!hasSecret(raw, 'AUDIT_HMAC_KEY')) problems.push('AUDIT_HMAC_KEY: required but not set (or AUDIT_HMAC_KEY_FILE)')
  return problems
}

/** The secret's source: the file when its _FILE twin is set (read and watched by the app), else the value. */
export function secretSource<T> (env: Env, name: FileSecret, parse: (value: string) => T): SecretSource<T> {
  const variable = `${name}_FILE` as const
  const file = env[variable]
  return file !== undefined ? { variable, file } : { value: parse(env[name] as string) }
}

/** A text secret read from a file: the same rule as its variable's schema. */
export function parseTextSecret (text: string): string {
  if (text.length < MIN_SECRET_LENGTH) throw new Error(`must hold at least ${MIN_SECRET_LENGTH} characters`)
  return text
}
