import { Type, type Static } from 'typebox'
import { Value } from 'typebox/value'
import { ALIAS_PATTERN } from './accounts.js'
import { ID_PATTERN, MAX_CALLER_ID_LENGTH, SCOPES } from './scope.js'

/** A rule's `account`: an alias, or "*" for every account (not for Account scope); absent, the default account. */
export const ALL_ACCOUNTS = '*'

const Rule = Type.Object(
  {
    scope: Type.Enum([...SCOPES]),
    ids: Type.Optional(Type.Array(Type.String({ pattern: ID_PATTERN }), { minItems: 1 })),
    account: Type.Optional(Type.Union([Type.String({ pattern: ALIAS_PATTERN }), Type.Literal(ALL_ACCOUNTS)]))
  },
  { additionalProperties: false }
)

const RateLimit = Type.Object(
  {
    max: Type.Integer({ minimum: 1, maximum: 1_000_000 }),
    // Milliseconds, or an ms-style duration such as "1 minute" or "30s".
    timeWindow: Type.Union([Type.Integer({ minimum: 1 }), Type.String({ minLength: 1 })])
  },
  { additionalProperties: false }
)

const CallerPolicy = Type.Object(
  {
    allow: Type.Array(Rule),
    rateLimit: Type.Optional(RateLimit),
    /** At most `max` new tokens (ARM mints) per `timeWindow`; cached tokens do not count. */
    mintBudget: Type.Optional(RateLimit),
    /** May evict cached tokens (DELETE /cache). */
    admin: Type.Optional(Type.Boolean())
  },
  { additionalProperties: false }
)

/**
 * What an app role (Entra's `roles` claim) grants to any caller carrying it: rules, and a mint budget that
 * each such caller has for itself; no rate limit or admin.
 */
const RolePolicy = Type.Object(
  { allow: Type.Array(Rule), mintBudget: Type.Optional(RateLimit) },
  { additionalProperties: false }
)

export const PolicySchema = Type.Object(
  {
    callers: Type.Record(Type.String(), CallerPolicy),
    roles: Type.Optional(Type.Record(Type.String(), RolePolicy)),
    /** The rate limit of callers that set none. */
    rateLimit: Type.Optional(RateLimit)
  },
  { additionalProperties: false }
)

export type PolicyDocument = Static<typeof PolicySchema>
export type PolicyRule = Static<typeof Rule>

export class PolicyError extends Error {
  override name = 'PolicyError'
}

// An app role's value has no spaces (Microsoft's app roles page); control characters are no more welcome.
const ROLE_NAME = /^[\x21-\x7e]+$/

/** Validates a policy document; the PolicyError names each bad entry by its JSON pointer. */
export function validatePolicy (document: unknown): PolicyDocument {
  // Something other than a policy (perhaps a secret) is refused without naming any of its keys.
  if (document === null || typeof document !== 'object' || Array.isArray(document)) invalid('/: must be object')
  if (!('callers' in document)) invalid('/: must have required properties callers')
  const normalised = lowerCaseScopes(document)
  const errors = Value.Errors(PolicySchema, normalised)
  if (errors.length > 0) {
    const lines = new Set(errors.map((e) => `${e.instancePath || '/'}: ${e.message}`))
    throw new PolicyError(`invalid policy:\n  ${[...lines].join('\n  ')}`)
  }
  const valid = normalised as PolicyDocument
  for (const [caller, { allow }] of Object.entries(valid.callers)) {
    const path = `/callers/${escapePointer(caller)}`
    if (caller.length < 1 || caller.length > MAX_CALLER_ID_LENGTH) {
      invalid(`${path}: a caller id has 1 to ${MAX_CALLER_ID_LENGTH} characters`)
    }
    checkRules(path, allow)
  }
  for (const [role, { allow }] of Object.entries(valid.roles ?? {})) {
    const path = `/roles/${escapePointer(role)}`
    if (role.length > MAX_CALLER_ID_LENGTH || !ROLE_NAME.test(role)) {
      invalid(`${path}: a role is 1 to ${MAX_CALLER_ID_LENGTH} printable ASCII characters without spaces`)
    }
    checkRules(path, allow)
  }
  return valid
}

function checkRules (path: string, allow: PolicyRule[]): void {
  allow.forEach((rule, index) => {
    if (rule.scope === 'account' && rule.ids !== undefined) {
      invalid(`${path}/allow/${index}/ids: account scope takes no ids`)
    }
    if (rule.scope === 'account' && rule.account === ALL_ACCOUNTS) {
      invalid(`${path}/allow/${index}/account: account scope is granted per alias, never "*"`)
    }
  })
}

function invalid (line: string): never {
  throw new PolicyError(`invalid policy:\n  ${line}`)
}

export function escapePointer (segment: string): string {
  return segment.replace(/~/g, '~0').replace(/\//g, '~1')
}

// Scope names are case-insensitive, as in the URLs, so "Video" and "video" mean the same rule.
function lowerCaseScopes (document: unknown): unknown {
  /* c8 ignore next: validatePolicy refuses a non-object before this is called */
  if (document === null || typeof document !== 'object') return document
  const copy = structuredClone(document) as Record<string, unknown>
  for (const section of ['callers', 'roles']) {
    const entries = copy[section]
    if (entries === null || typeof entries !== 'object') continue
    for (const entry of Object.values(entries as Record<string, { allow?: unknown }>)) {
      if (!Array.isArray(entry?.allow)) continue
      for (const rule of entry.allow as Array<{ scope?: unknown }>) {
        if (typeof rule?.scope === 'string') rule.scope = rule.scope.toLowerCase()
      }
    }
  }
  return copy
}
