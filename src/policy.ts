import { readFile } from 'node:fs/promises'
import { Type, type Static } from 'typebox'
import ms, { type StringValue } from 'ms'
import { Value } from 'typebox/value'
import { ID_PATTERN, MAX_CALLER_ID_LENGTH, SCOPES, type Scope } from './scope.js'

const Rule = Type.Object(
  {
    scope: Type.Enum([...SCOPES]),
    ids: Type.Optional(Type.Array(Type.String({ pattern: ID_PATTERN }), { minItems: 1 }))
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
    /** May evict cached tokens (DELETE /cache). */
    admin: Type.Optional(Type.Boolean())
  },
  { additionalProperties: false }
)

export const PolicySchema = Type.Object(
  {
    callers: Type.Record(Type.String(), CallerPolicy),
    /** The rate limit of callers that set none. */
    rateLimit: Type.Optional(RateLimit)
  },
  { additionalProperties: false }
)

export interface CallerRateLimit {
  max: number
  timeWindowMs: number
}

export const DEFAULT_RATE_LIMIT: CallerRateLimit = { max: 600, timeWindowMs: 60_000 }

export type PolicyDocument = Static<typeof PolicySchema>

export interface Policy {
  /** Deny by default: true only when a rule names this scope, and names this id when it lists ids. */
  isAllowed(caller: string, scope: Scope, id: string | undefined): boolean
  isAdmin(caller: string): boolean
  isKnown(caller: string): boolean
  rateLimitFor(caller: string): CallerRateLimit
  readonly callerCount: number
}

export class PolicyError extends Error {
  override name = 'PolicyError'
}

const ANY_ID = 'any'
type Grants = Map<Scope, Set<string> | typeof ANY_ID>

export function createPolicy (document: unknown): Policy {
  const valid = validatePolicy(document)
  const callers = new Map<string, Grants>()
  const defaultLimit = valid.rateLimit ? toRateLimit(valid.rateLimit, '/rateLimit') : DEFAULT_RATE_LIMIT
  const limits = new Map<string, CallerRateLimit>()
  const admins = new Set<string>()
  for (const [caller, { allow, rateLimit, admin }] of Object.entries(valid.callers)) {
    if (rateLimit) limits.set(caller, toRateLimit(rateLimit, `/callers/${escapePointer(caller)}/rateLimit`))
    if (admin === true) admins.add(caller)
    const grants: Grants = new Map()
    for (const rule of allow) {
      const scope = rule.scope as Scope
      const existing = grants.get(scope)
      if (rule.ids === undefined || existing === ANY_ID) grants.set(scope, ANY_ID)
      else grants.set(scope, new Set([...(existing ?? []), ...rule.ids]))
    }
    callers.set(caller, grants)
  }
  return {
    callerCount: callers.size,
    isAdmin: (caller) => admins.has(caller),
    isKnown: (caller) => callers.has(caller),
    rateLimitFor: (caller) => limits.get(caller) ?? defaultLimit,
    isAllowed (caller, scope, id) {
      const grant = callers.get(caller)?.get(scope)
      if (grant === undefined) return false
      return grant === ANY_ID || (id !== undefined && grant.has(id))
    }
  }
}

export async function loadPolicyFile (path: string): Promise<Policy> {
  return policyFromText(await readPolicyFile(path), path)
}

export async function readPolicyFile (path: string): Promise<string> {
  try {
    return await readFile(path, 'utf8')
  } catch (error) {
    throw new PolicyError(`Policy file ${path} cannot be read: ${(error as Error).message}`)
  }
}

/** Parses and validates a policy file's text; errors name the file and the bad entry. */
export function policyFromText (text: string, path: string): Policy {
  let document: unknown
  try {
    document = JSON.parse(text)
  } catch (error) {
    throw new PolicyError(`Policy file ${path} is not valid JSON${whereInvalid(text, error as Error)}`)
  }
  try {
    return createPolicy(document)
  } catch (error) {
    throw new PolicyError(`Policy file ${path}: ${(error as Error).message}`)
  }
}

/**
 * Where the parser stopped, never what it read: JSON.parse's own message quotes the text, and a policy
 * path may be pointed at a secret by mistake.
 */
function whereInvalid (text: string, error: Error): string {
  if (/end of JSON input/.test(error.message)) return ' (it ends too early)'
  const position = /at position (\d+)/.exec(error.message)?.[1]
  if (position === undefined) return ''
  const lines = text.slice(0, Number(position)).split('\n')
  return ` (at line ${lines.length}, column ${(lines.at(-1) as string).length + 1})`
}

function validatePolicy (document: unknown): PolicyDocument {
  // Something other than a policy (perhaps a secret) is refused without naming any of its keys.
  if (document === null || typeof document !== 'object' || Array.isArray(document)) {
    throw new PolicyError('invalid policy:\n  /: must be object')
  }
  if (!('callers' in document)) throw new PolicyError('invalid policy:\n  /: must have required properties callers')
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
      throw new PolicyError(`invalid policy:\n  ${path}: a caller id has 1 to ${MAX_CALLER_ID_LENGTH} characters`)
    }
    allow.forEach((rule, index) => {
      if (rule.scope === 'account' && rule.ids !== undefined) {
        throw new PolicyError(`invalid policy:\n  ${path}/allow/${index}/ids: account scope takes no ids`)
      }
    })
  }
  return valid
}

function escapePointer (segment: string): string {
  return segment.replace(/~/g, '~0').replace(/\//g, '~1')
}

function toRateLimit (limit: { max: number; timeWindow: number | string }, path: string): CallerRateLimit {
  const timeWindowMs = typeof limit.timeWindow === 'number' ? limit.timeWindow : ms(limit.timeWindow as StringValue)
  if (typeof timeWindowMs !== 'number' || !(timeWindowMs > 0)) {
    throw new PolicyError(`invalid policy:\n  ${path}/timeWindow: not a duration (use milliseconds or e.g. "1 minute")`)
  }
  return { max: limit.max, timeWindowMs }
}

// Scope names are case-insensitive, as in the URLs, so "Video" and "video" mean the same rule.
function lowerCaseScopes (document: unknown): unknown {
  const callers = (document as { callers?: unknown } | null)?.callers
  if (callers === null || typeof callers !== 'object') return document
  const copy = structuredClone(document) as { callers: Record<string, { allow?: unknown }> }
  for (const caller of Object.values(copy.callers)) {
    if (!Array.isArray(caller?.allow)) continue
    for (const rule of caller.allow as Array<{ scope?: unknown }>) {
      if (typeof rule?.scope === 'string') rule.scope = rule.scope.toLowerCase()
    }
  }
  return copy
}
