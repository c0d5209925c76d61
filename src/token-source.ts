import type { Scope } from './scope.js'

/** One Video Indexer account, as ARM names it, under the alias the broker's routes use. */
export interface Account {
  alias: string
  subscriptionId: string
  resourceGroup: string
  name: string
}

/** Who is waiting for a mint: a caller (a miss), or nobody (a background refresh). */
export type MintPriority = 'caller' | 'background'

/** What a caller asks for: a token of one scope (and id) for one account. */
export interface TokenRequest {
  account: Account
  scope: Scope
  id?: string | undefined
  /** Not part of the key: a background refresh spends only the ARM budget callers leave. */
  priority?: MintPriority | undefined
  /** Not part of the key: the caller a new mint is charged to, and its policy's mint budget. */
  mintBudget?: ({ caller: string } & MintBudget) | undefined
}

/** At most `max` mints in each window of `timeWindowMs` (a policy's mintBudget). */
export interface MintBudget {
  max: number
  timeWindowMs: number
}

/** A token as ARM minted it. */
export interface MintedToken {
  accessToken: string
  /** The token's exp in epoch ms, or undefined when it cannot be read. */
  expiresAt: number | undefined
  armRequestId: string | undefined
}

/**
 * The one shape of every tier on the token path, read left to right:
 * routes → token cache → shared cache (when configured) → ARM. Each tier wraps the next.
 */
export interface TokenSource<Result = MintedToken> {
  get(request: TokenRequest): Promise<Result>
}

/**
 * The key of a token: everything that identifies what was minted. ARM resource names are
 * case-insensitive, so the account's parts are compared in lower case.
 */
export function tokenKey ({ account, scope, id }: TokenRequest): string {
  return `${accountKey(account)}/${scope}/${id ?? ''}`
}

const accountKeys = new WeakMap<Account, string>()

/** The part of every tokenKey that names the account (worked out once per account object). */
export function accountKey (account: Account): string {
  let key = accountKeys.get(account)
  if (key === undefined) {
    key = `${account.subscriptionId}/${account.resourceGroup}/${account.name}`.toLowerCase()
    accountKeys.set(account, key)
  }
  return key
}

/** Splits a tokenKey into its accountKey and the rest (`/scope/id`): an accountKey has three parts. */
export function splitTokenKey (key: string): { account: string; rest: string } {
  const at = key.indexOf('/', key.indexOf('/', key.indexOf('/') + 1) + 1)
  return { account: key.slice(0, at), rest: key.slice(at) }
}

/** What an operator evicts: one token, or every token of one account. */
export type Eviction = TokenRequest | { account: Account }

/**
 * What the fleet evicted, by key: one tokenKey, every token under an accountKey, or everything this
 * process holds (it was not listening for a while, so it may have missed evictions).
 */
export type EvictedKeys = { token: string } | { account: string } | { all: true }

export function evictedKeys (eviction: Eviction): { token: string } | { account: string } {
  return 'scope' in eviction ? { token: tokenKey(eviction) } : { account: accountKey(eviction.account) }
}

/**
 * A tier that other replicas share: evicting from it reaches the whole fleet, and it tells each
 * replica what was evicted anywhere, so the tier above can drop its own copies.
 */
export interface FleetEviction {
  /** Deletes the shared copies and tells every replica; returns how many shared copies went. */
  evict(eviction: Eviction): Promise<number>
  /** Called for every eviction made by any replica, this one included. */
  onEvicted(listener: (keys: EvictedKeys) => void): void
}
