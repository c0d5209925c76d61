import { ConfigError } from './config-error.js'
import type { Env } from './env-schema.js'

/**
 * What gives a value away as a stand-in for a real one: the words templates and tutorials use, angle
 * brackets around a description, or one character repeated. Such a value is public (it is in
 * .env.example, or in a blog post), so a broker given one as a key would run with a known key.
 */
const PLACEHOLDER_PATTERNS: RegExp[] = [
  /change[-_ ]?me/i,
  /replace[-_ ]?(me|with|this)/i,
  /placeholder/i,
  /example/i,
  /your[-_ ]/i,
  /<[^>]*>/,
  /^(.)\1*$/s
]
const NIL_GUID = '00000000-0000-0000-0000-000000000000'

/** Keys and secrets, where a placeholder would be a publicly known key. */
const KEYS = ['AUDIT_HMAC_KEY', 'AUTH_JWT_SECRET', 'CACHE_ENCRYPTION_KEY'] as const
/** Ids whose template value is the nil GUID, which names no Azure resource. */
const IDS = ['AVI_SUBSCRIPTION_ID'] as const

export function isPlaceholder (value: string): boolean {
  return PLACEHOLDER_PATTERNS.some((pattern) => pattern.test(value))
}

/** Throws a ConfigError naming each variable that still holds a placeholder; never echoes the value. */
export function checkPlaceholders (env: Env): void {
  const lines: string[] = []
  for (const name of KEYS) {
    const value = env[name]
    if (value !== undefined && isPlaceholder(value)) {
      lines.push(`  ${name}: is a placeholder, not a key (value hidden); set a random value from a secret store`)
    }
  }
  for (const name of IDS) {
    if (env[name] === NIL_GUID) lines.push(`  ${name}: is a placeholder (the nil GUID); set the real id`)
  }
  if (lines.length > 0) throw new ConfigError(['Invalid configuration:', ...lines].join('\n'))
}
