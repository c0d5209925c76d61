import type { Scope } from './scope.js'

/** One Video Indexer account, as ARM names it, under the alias the broker's routes use. */
export interface Account {
  alias: string
  subscriptionId: string
  resourceGroup: string
  name: string
}

/** What a caller asks for: a token of one scope (and id) for one account. */
export interface TokenRequest {
  account: Account
  scope: Scope
  id?: string | undefined
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
  const where = `${account.subscriptionId}/${account.resourceGroup}/${account.name}`.toLowerCase()
  return `${where}/${scope}/${id ?? ''}`
}
