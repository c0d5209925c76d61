import { isIPv4 } from 'node:net'
import { invalidConfig } from './config-error.js'
import type { Env } from './env-schema.js'
import { hasSecret, parseTextSecret, secretSource } from './secrets.js'
import type { AuthCommon, AuthConfig } from './types.js'

// The caller-authentication variables: three modes (Entra, JWKS, HS256), exactly one of them set.
const MODE_VARIABLES = ['AUTH_ENTRA_TENANT_ID', 'AUTH_JWKS_URI', 'AUTH_JWT_SECRET'] as const
const GUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i

/** A comma list as written in a variable: items trimmed, none empty (the schema has already checked the shape). */
export function commaList (value: string): string[] {
  return value.split(',').map((item) => item.trim())
}

/**
 * The variables the chosen auth mode needs but were not given, as "NAME: required but not set" lines.
 * Run on the raw environment, so they are reported together with the schema's own missing variables.
 */
export function missingAuthVariables (raw: Record<string, unknown>): string[] {
  if (raw.AUTH_ENTRA_TENANT_ID !== undefined) {
    return raw.AUTH_ENTRA_AUDIENCE === undefined
      ? ["AUTH_ENTRA_AUDIENCE: required but not set (the broker app's client id and/or application ID URI)"]
      : []
  }
  return (['AUTH_ISSUER', 'AUTH_AUDIENCE'] as const)
    .filter((name) => raw[name] === undefined)
    .map((name) => `${name}: required but not set (in JWKS and HS256 modes; Entra mode derives it)`)
}

/** The rules between the auth variables; each throws a ConfigError naming the variables at fault. */
export function checkAuth (env: Env): void {
  const given = (name: (typeof MODE_VARIABLES)[number]) =>
    name === 'AUTH_JWT_SECRET' ? hasSecret(env, name) : env[name] !== undefined
  const modes = MODE_VARIABLES.filter(given)
  if (modes.length !== 1) {
    throw invalidConfig(
      MODE_VARIABLES.join(', '),
      'set exactly one (Microsoft Entra ID, RS256 via any JWKS, ' +
        'or HS256 with a shared secret in AUTH_JWT_SECRET or AUTH_JWT_SECRET_FILE)'
    )
  }
  if (env.AUTH_JWKS_URI !== undefined) assertHttpsOrLoopback('AUTH_JWKS_URI', env.AUTH_JWKS_URI)
  if (env.AUTH_ENTRA_TENANT_ID === undefined) {
    const entraOnly = (['AUTH_ENTRA_AUDIENCE'] as const).filter((name) => env[name] !== undefined)
    if (entraOnly.length > 0) throw invalidConfig(entraOnly.join(', '), 'only used with AUTH_ENTRA_TENANT_ID')
    return
  }
  const generic = (['AUTH_ISSUER', 'AUTH_AUDIENCE'] as const).filter((name) => env[name] !== undefined)
  if (generic.length > 0) {
    throw invalidConfig(
      generic.join(', '),
      'not used with AUTH_ENTRA_TENANT_ID (Entra mode derives the issuers; list audiences in AUTH_ENTRA_AUDIENCE)'
    )
  }
  assertHttpsOrLoopback('AUTH_ENTRA_AUTHORITY_HOST', env.AUTH_ENTRA_AUTHORITY_HOST)
  for (const audience of commaList(env.AUTH_ENTRA_AUDIENCE as string)) checkEntraAudience(audience)
}

// An access token's aud is the resource's client id or its application ID URI, never a scope.
function checkEntraAudience (audience: string): void {
  if (audience.endsWith('/.default')) {
    throw invalidConfig(
      'AUTH_ENTRA_AUDIENCE',
      `"${audience}" is a scope; the token's aud is the URI without "/.default"`
    )
  }
  if (!GUID.test(audience) && !/^[a-z][a-z0-9+.-]*:\S+$/i.test(audience)) {
    throw invalidConfig(
      'AUTH_ENTRA_AUDIENCE',
      `"${audience}" is neither a client id (a GUID) nor an application ID URI (such as api://vi-token-broker)`
    )
  }
}

/** Maps the checked auth variables to the typed auth config. */
export function toAuth (env: Env): AuthConfig {
  const common = {
    callerClaims: env.AUTH_CALLER_CLAIMS.split(','),
    clockSkewSeconds: env.AUTH_CLOCK_SKEW_SECONDS,
    maxLifetimeSeconds: env.AUTH_MAX_TOKEN_LIFETIME_SECONDS
  }
  const jwks = { jwksTimeoutMs: env.AUTH_JWKS_TIMEOUT_MS, jwksCooldownMs: env.AUTH_JWKS_COOLDOWN_MS }
  if (env.AUTH_ENTRA_TENANT_ID !== undefined) {
    const tenantId = env.AUTH_ENTRA_TENANT_ID.toLowerCase()
    const authority = env.AUTH_ENTRA_AUTHORITY_HOST.replace(/\/+$/, '')
    const versions = commaList(env.AUTH_ENTRA_TOKEN_VERSIONS)
    // The issuer of each token version (Microsoft's access token claims reference, `iss`):
    // v1.0 tokens come from https://sts.windows.net/{tid}/, v2.0 tokens from {authority}/{tid}/v2.0.
    const issuers = [
      ...(versions.includes('1') ? [`https://sts.windows.net/${tenantId}/`] : []),
      ...(versions.includes('2') ? [`${authority}/${tenantId}/v2.0`] : [])
    ]
    return {
      mode: 'entra',
      tenantId,
      jwksUri: `${authority}/${tenantId}/discovery/v2.0/keys`,
      ...jwks,
      issuers,
      audiences: commaList(env.AUTH_ENTRA_AUDIENCE as string),
      ...common
    }
  }
  const lists: Pick<AuthCommon, 'issuers' | 'audiences'> = {
    issuers: commaList(env.AUTH_ISSUER as string),
    audiences: commaList(env.AUTH_AUDIENCE as string)
  }
  if (env.AUTH_JWKS_URI !== undefined) return { mode: 'jwks', jwksUri: env.AUTH_JWKS_URI, ...jwks, ...lists, ...common }
  return { mode: 'hs256', secret: secretSource(env, 'AUTH_JWT_SECRET', parseTextSecret), ...lists, ...common }
}

// Plain http is only acceptable on loopback (the bundled emulator); anywhere else it must be https.
export function assertHttpsOrLoopback (variable: string, uri: string): void {
  let url: URL
  try {
    url = new URL(uri)
  } catch {
    throw invalidConfig(variable, 'is not a valid URL')
  }
  const { protocol, hostname } = url
  const loopback = hostname === 'localhost' || hostname === '[::1]' || (isIPv4(hostname) && hostname.startsWith('127.'))
  if (protocol !== 'https:' && !loopback) {
    throw invalidConfig(variable, 'must be https (plain http is allowed on loopback only)')
  }
}
