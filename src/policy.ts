import { readFile } from 'node:fs/promises'
import ms, { type StringValue } from 'ms'
import { escapePointer, PolicyError, validatePolicy, type PolicyRule } from './policy-schema.js'
import type { Scope } from './scope.js'

export { PolicyError, PolicySchema, type PolicyDocument } from './policy-schema.js'

export interface CallerRateLimit {
  max: number
  timeWindowMs: number
}

export const DEFAULT_RATE_LIMIT: CallerRateLimit = { max: 600, timeWindowMs: 60_000 }

export interface Policy {
  /**
   * Deny by default: true only when a rule of the caller's entry, or of one of its app roles' entries, names
   * this scope, and names this id when it lists ids.
   */
  isAllowed(caller: string, scope: Scope, id: string | undefined, roles?: readonly string[]): boolean
  isAdmin(caller: string): boolean
  /** Has an entry under `callers` (a caller known only through a role is not). */
  isKnown(caller: string): boolean
  /** The caller's own limit, else the policy's default: roles carry none. */
  rateLimitFor(caller: string): CallerRateLimit
  readonly callerCount: number
  readonly roleCount: number
}

const ANY_ID = 'any'
type Grants = Map<Scope, Set<string> | typeof ANY_ID>

export function createPolicy (document: unknown): Policy {
  const valid = validatePolicy(document)
  const callers = new Map<string, Grants>()
  const roles = new Map<string, Grants>()
  const defaultLimit = valid.rateLimit ? toRateLimit(valid.rateLimit, '/rateLimit') : DEFAULT_RATE_LIMIT
  const limits = new Map<string, CallerRateLimit>()
  const admins = new Set<string>()
  for (const [caller, { allow, rateLimit, admin }] of Object.entries(valid.callers)) {
    if (rateLimit) limits.set(caller, toRateLimit(rateLimit, `/callers/${escapePointer(caller)}/rateLimit`))
    if (admin === true) admins.add(caller)
    callers.set(caller, grantsOf(allow))
  }
  for (const [role, { allow }] of Object.entries(valid.roles ?? {})) roles.set(role, grantsOf(allow))
  const grants = (entry: Grants | undefined, scope: Scope, id: string | undefined) => {
    const grant = entry?.get(scope)
    return grant !== undefined && (grant === ANY_ID || (id !== undefined && grant.has(id)))
  }
  return {
    callerCount: callers.size,
    roleCount: roles.size,
    isAdmin: (caller) => admins.has(caller),
    isKnown: (caller) => callers.has(caller),
    rateLimitFor: (caller) => limits.get(caller) ?? defaultLimit,
    isAllowed (caller, scope, id, callerRoles = []) {
      // The union of the caller's own grants and those of each role it carries.
      return grants(callers.get(caller), scope, id) || callerRoles.some((role) => grants(roles.get(role), scope, id))
    }
  }
}

function grantsOf (allow: PolicyRule[]): Grants {
  const grants: Grants = new Map()
  for (const rule of allow) {
    const scope = rule.scope as Scope
    const existing = grants.get(scope)
    if (rule.ids === undefined || existing === ANY_ID) grants.set(scope, ANY_ID)
    else grants.set(scope, new Set([...(existing ?? []), ...rule.ids]))
  }
  return grants
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
function toRateLimit (limit: { max: number; timeWindow: number | string }, path: string): CallerRateLimit {
  const timeWindowMs = typeof limit.timeWindow === 'number' ? limit.timeWindow : ms(limit.timeWindow as StringValue)
  if (typeof timeWindowMs !== 'number' || !(timeWindowMs > 0)) {
    throw new PolicyError(`invalid policy:\n  ${path}/timeWindow: not a duration (use milliseconds or e.g. "1 minute")`)
  }
  return { max: limit.max, timeWindowMs }
}
