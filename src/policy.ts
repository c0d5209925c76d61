import { createHash } from 'node:crypto'
import { readFile } from 'node:fs/promises'
import ms, { type StringValue } from 'ms'
import { ALL_ACCOUNTS, escapePointer, PolicyError, validatePolicy, type PolicyRule } from './policy-schema.js'
import type { Scope } from './scope.js'
import type { MintBudget } from './token-source.js'

export { PolicyError, PolicySchema, type PolicyDocument } from './policy-schema.js'

export interface CallerRateLimit {
  max: number
  timeWindowMs: number
}

export const DEFAULT_RATE_LIMIT: CallerRateLimit = { max: 600, timeWindowMs: 60_000 }

/**
 * A decision and its reason: for an allow, the JSON pointer of a rule that allows it
 * (`/callers/portal-bff/allow/0`, `/roles/Tokens.Video/allow/0`); for a deny, why no rule does.
 */
export type Explanation = { decision: 'allow'; reason: string } | { decision: 'deny'; reason: DenyReason }

/** Why nothing allowed a request; account_not_granted is for an account the broker does not serve. */
export type DenyReason = 'unknown_caller' | 'scope_not_granted' | 'id_not_listed' | 'account_not_granted'

export const DENIED: { readonly [R in DenyReason]: Explanation } = Object.freeze({
  unknown_caller: Object.freeze({ decision: 'deny', reason: 'unknown_caller' }),
  scope_not_granted: Object.freeze({ decision: 'deny', reason: 'scope_not_granted' }),
  id_not_listed: Object.freeze({ decision: 'deny', reason: 'id_not_listed' }),
  account_not_granted: Object.freeze({ decision: 'deny', reason: 'account_not_granted' })
})

/** The account a request is for: its alias, and whether it is the default account. Default: the default account. */
export interface AccountRef {
  alias: string
  isDefault: boolean
}

const DEFAULT_ACCOUNT_REF: AccountRef = { alias: '', isDefault: true }

export interface Policy {
  /**
   * Deny by default: allow only when a rule of the caller's entry, or of one of its app roles' entries,
   * names this scope and this account (a rule without one names the default account; "*" every account,
   * but not for Account scope), and names this id when it lists ids; the caller's own rules are tried first.
   */
  explain(
    caller: string,
    scope: Scope,
    id: string | undefined,
    roles?: readonly string[],
    account?: AccountRef
  ): Explanation
  /** explain(...).decision === 'allow'. */
  isAllowed(
    caller: string,
    scope: Scope,
    id: string | undefined,
    roles?: readonly string[],
    account?: AccountRef
  ): boolean
  isAdmin(caller: string): boolean
  /** Has an entry under `callers` (a caller known only through a role is not). */
  isKnown(caller: string): boolean
  /** The caller's own limit, else the policy's default: roles carry none. */
  rateLimitFor(caller: string): CallerRateLimit
  /** The caller's own mint budget, else the most generous of its roles', else none (no limit). */
  mintBudgetFor(caller: string, roles?: readonly string[]): MintBudget | undefined
  readonly callerCount: number
  readonly roleCount: number
  /** SHA-256 (hex) of the validated policy document: tells two versions apart. */
  readonly hash: string
}

/** Per scope, the rule that allows any id, and the rule that allows each listed id; reasons made once. */
type Grants = Map<Scope, { any: Explanation | undefined; ids: Map<string, Explanation> }>
/** One entry's grants by the account its rules name: an alias, "*", or "" (no account: the default one). */
type EntryGrants = Map<string, Grants>

export function createPolicy (document: unknown): Policy {
  const valid = validatePolicy(document)
  const callers = new Map<string, EntryGrants>()
  const roles = new Map<string, EntryGrants>()
  const defaultLimit = valid.rateLimit ? toRateLimit(valid.rateLimit, '/rateLimit') : DEFAULT_RATE_LIMIT
  const limits = new Map<string, CallerRateLimit>()
  const admins = new Set<string>()
  const budgets = new Map<string, MintBudget>()
  const roleBudgets = new Map<string, MintBudget>()
  for (const [caller, { allow, rateLimit, admin, mintBudget }] of Object.entries(valid.callers)) {
    if (rateLimit) limits.set(caller, toRateLimit(rateLimit, `/callers/${escapePointer(caller)}/rateLimit`))
    if (mintBudget) budgets.set(caller, toRateLimit(mintBudget, `/callers/${escapePointer(caller)}/mintBudget`))
    if (admin === true) admins.add(caller)
    callers.set(caller, grantsOf(allow, `/callers/${escapePointer(caller)}`))
  }
  for (const [role, { allow, mintBudget }] of Object.entries(valid.roles ?? {})) {
    if (mintBudget) roleBudgets.set(role, toRateLimit(mintBudget, `/roles/${escapePointer(role)}/mintBudget`))
    roles.set(role, grantsOf(allow, `/roles/${escapePointer(role)}`))
  }
  function explain (
    caller: string,
    scope: Scope,
    id: string | undefined,
    callerRoles: readonly string[] = [],
    account: AccountRef = DEFAULT_ACCOUNT_REF
  ) {
    const own = callers.get(caller)
    const entries = [...(own === undefined ? [] : [own])]
    for (const role of callerRoles) {
      const entry = roles.get(role)
      if (entry !== undefined) entries.push(entry)
    }
    if (entries.length === 0) return DENIED.unknown_caller
    let scoped = false
    for (const entry of entries) {
      const allowed = allowedBy(entry, scope, id, account)
      if (allowed) return allowed
      if (allowed === null) scoped = true
    }
    if (scoped) return DENIED.id_not_listed
    return entries.some((entry) => [...entry.values()].some((grants) => grants.has(scope)))
      ? DENIED.account_not_granted
      : DENIED.scope_not_granted
  }
  return {
    hash: createHash('sha256').update(JSON.stringify(valid)).digest('hex'),
    explain,
    callerCount: callers.size,
    roleCount: roles.size,
    isAdmin: (caller) => admins.has(caller),
    isKnown: (caller) => callers.has(caller),
    rateLimitFor: (caller) => limits.get(caller) ?? defaultLimit,
    mintBudgetFor (caller, callerRoles = []) {
      const own = budgets.get(caller)
      if (own) return own
      let best: MintBudget | undefined
      for (const role of callerRoles) {
        const budget = roleBudgets.get(role)
        if (budget && (!best || budget.max / budget.timeWindowMs > best.max / best.timeWindowMs)) best = budget
      }
      return best
    },
    // The union of the caller's own grants and those of each role it carries.
    isAllowed: (caller, scope, id, callerRoles, account) =>
      explain(caller, scope, id, callerRoles, account).decision === 'allow'
  }
}

/**
 * The rule of this entry that allows this request on this account; null when the scope is granted on it but
 * not this id, undefined when it is not.
 */
function allowedBy (
  entry: EntryGrants,
  scope: Scope,
  id: string | undefined,
  account: AccountRef
): Explanation | null | undefined {
  // The account's own rules, the default account's unnamed ones, and "*" (never for Account scope).
  const keys = [account.alias, ...(account.isDefault ? [''] : []), ...(scope === 'account' ? [] : [ALL_ACCOUNTS])]
  let result: null | undefined
  for (const key of keys) {
    const grant = entry.get(key)?.get(scope)
    if (grant === undefined) continue
    const allowed = grant.any ?? (id === undefined ? undefined : grant.ids.get(id))
    if (allowed) return allowed
    result = null
  }
  return result
}

/** The grants of one entry's rules; `entry` is its JSON pointer, so each allow names its rule. */
function grantsOf (allow: PolicyRule[], entry: string): EntryGrants {
  const byAccount: EntryGrants = new Map()
  allow.forEach((rule, index) => {
    const allowed: Explanation = Object.freeze({ decision: 'allow', reason: `${entry}/allow/${index}` })
    const scope = rule.scope as Scope
    const grants = byAccount.get(rule.account ?? '') ?? new Map()
    byAccount.set(rule.account ?? '', grants)
    const grant = grants.get(scope) ?? { any: undefined, ids: new Map<string, Explanation>() }
    grants.set(scope, grant)
    if (rule.ids === undefined) grant.any ??= allowed
    else for (const id of rule.ids) if (!grant.ids.has(id)) grant.ids.set(id, allowed)
  })
  return byAccount
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
