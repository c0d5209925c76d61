import type { FastifyRequest } from 'fastify'
import type { AccountMetadataStore, KnownMetadata } from '../account-metadata.js'
import type { Accounts } from '../accounts.js'
import { callerOf } from '../caller.js'
import { brokerError } from '../errors.js'
import type { Policy } from '../policy.js'
import type { Scope } from '../scope.js'
import type { CacheResult, TokenCache } from '../token-cache.js'
import type { Account } from '../token-source.js'

export interface IssueOptions {
  accounts: () => Accounts
  policy: () => Policy
  /** The first tier of the token path: the in-process cache, then the shared cache and ARM. */
  tokens: TokenCache
  metadata: AccountMetadataStore
}

export interface Issued {
  account: Account
  result: CacheResult
  metadata: KnownMetadata | undefined
}

/**
 * The account a request names: its `alias` path parameter (404 UNKNOWN_ACCOUNT when none has it), or
 * the default account. Kept on the request for the audit record.
 */
export function accountOf (request: FastifyRequest, accounts: Accounts): Account {
  const alias = (request.params as { alias?: string } | undefined)?.alias
  const account = alias === undefined ? accounts.default : accounts.get(alias.toLowerCase())
  if (account === undefined) throw brokerError('UNKNOWN_ACCOUNT', { reason: 'unknown_account' })
  request.account = account
  return account
}

/** The policy decides for this caller, scope, id and account; then the cache (or ARM) answers. */
export function createIssuer (options: IssueOptions) {
  const { accounts, policy, tokens, metadata } = options
  return {
    /** Authorises the request and resolves its account, before anything is minted. */
    authorise (request: FastifyRequest, scope: Scope, id: string | undefined): Account {
      const served = accounts()
      const account = accountOf(request, served)
      const explained = policy().explain(
        callerOf(request),
        scope,
        id,
        /* c8 ignore next: authenticate always sets callerRoles; the fallback guards routes tested without it */
        request.callerRoles ?? [],
        { alias: account.alias, isDefault: account.alias === served.default.alias }
      )
      if (explained.decision === 'deny') throw brokerError('POLICY_DENIED', { reason: explained.reason })
      return account
    },
    async mint (request: FastifyRequest, account: Account, scope: Scope, id: string | undefined): Promise<Issued> {
      const caller = callerOf(request)
      /* c8 ignore next: authenticate always sets callerRoles; the fallback guards routes tested without it */
      const budget = policy().mintBudgetFor(caller, request.callerRoles ?? [])
      const result = await tokens.get({ account, scope, id, mintBudget: budget && { caller, ...budget } })
      request.issued = result
      return { account, result, metadata: metadata.get(account) }
    },
    metadataOf: (account: Account) => metadata.get(account)
  }
}

export type Issuer = ReturnType<typeof createIssuer>

/** The `account` object of a response: the alias, ARM name, id and location. */
export function accountFields (account: Account, known: KnownMetadata) {
  return { alias: account.alias, accountName: account.name, accountId: known.accountId, location: known.location }
}
