import { readFile } from 'node:fs/promises'
import { Type, type Static } from 'typebox'
import { Value } from 'typebox/value'
import { ID_PATTERN, MAX_CALLER_ID_LENGTH, SCOPES, type Scope } from './scope.js'

const Rule = Type.Object(
  {
    scope: Type.Enum([...SCOPES]),
    ids: Type.Optional(Type.Array(Type.String({ pattern: ID_PATTERN }), { minItems: 1 }))
  },
  { additionalProperties: false }
)

const CallerPolicy = Type.Object(
  { allow: Type.Array(Rule) },
  { additionalProperties: false }
)

export const PolicySchema = Type.Object(
  { callers: Type.Record(Type.String(), CallerPolicy) },
  { additionalProperties: false }
)

export type PolicyDocument = Static<typeof PolicySchema>

export interface Policy {
  /** Deny by default: true only when a rule names this scope, and names this id when it lists ids. */
  isAllowed(caller: string, scope: Scope, id: string | undefined): boolean
  readonly callerCount: number
}

export class PolicyError extends Error {
  override name = 'PolicyError'
}

const ANY_ID = 'any'
type Grants = Map<Scope, Set<string> | typeof ANY_ID>

export function createPolicy(document: unknown): Policy {
  const valid = validatePolicy(document)
  const callers = new Map<string, Grants>()
  for (const [caller, { allow }] of Object.entries(valid.callers)) {
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
    isAllowed(caller, scope, id) {
      const grant = callers.get(caller)?.get(scope)
      if (grant === undefined) return false
      return grant === ANY_ID || (id !== undefined && grant.has(id))
    }
  }
}

export async function loadPolicyFile(path: string): Promise<Policy> {
  let text: string
  try {
    text = await readFile(path, 'utf8')
  } catch (error) {
    throw new PolicyError(`Policy file ${path} cannot be read: ${(error as Error).message}`)
  }
  let document: unknown
  try {
    document = JSON.parse(text)
  } catch (error) {
    throw new PolicyError(`Policy file ${path} is not valid JSON: ${(error as Error).message}`)
  }
  try {
    return createPolicy(document)
  } catch (error) {
    throw new PolicyError(`Policy file ${path}: ${(error as Error).message}`)
  }
}

function validatePolicy(document: unknown): PolicyDocument {
  const normalised = lowerCaseScopes(document)
  const errors = Value.Errors(PolicySchema, normalised)
  if (errors.length > 0) {
    const lines = new Set(errors.map((e) => `${e.instancePath || '/'}: ${e.message}`))
    throw new PolicyError(`invalid policy:\n  ${[...lines].join('\n  ')}`)
  }
  const valid = normalised as PolicyDocument
  for (const [caller, { allow }] of Object.entries(valid.callers)) {
    const path = `/callers/${caller.replace(/~/g, '~0').replace(/\//g, '~1')}`
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

// Scope names are case-insensitive, as in the URLs, so "Video" and "video" mean the same rule.
function lowerCaseScopes(document: unknown): unknown {
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
