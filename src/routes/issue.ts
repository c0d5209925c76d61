import type { FastifyRequest } from 'fastify'
import { LRUCache } from 'lru-cache'
import type { AccountMetadataStore, KnownMetadata } from '../account-metadata.js'
import type { Accounts } from '../accounts.js'
import { callerOf } from '../caller.js'
import { brokerError } from '../errors.js'
import { embedUrl } from '../embed.js'
import type { Policy } from '../policy.js'
import { ARM_SCOPE_NAMES, type Scope } from '../scope.js'
import type { CachedToken, CacheResult, TokenCache } from '../token-cache.js'
import type { Account } from '../token-source.js'

export interface IssueOptions {
  accounts: () => Accounts
  policy: () => Policy
  /** The first tier of the token path: the in-process cache, then the shared cache and ARM. */
  tokens: TokenCache
  metadata: AccountMetadataStore
  /** VI_WEB_BASE_URL: where Video-scope answers' embed URLs point. */
  webBaseUrl: string
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

/** The fields of a token answer (tokenResponse in schemas.ts): a token route's body, and a batch item's. */
export interface TokenBody {
  accessToken: string
  scope: 'Account' | 'Project' | 'Video'
  videoId?: string
  projectId?: string
  accountName: string
  expiresOn: string
  account?: ReturnType<typeof accountFields>
  embed?: { player: string; insights: string }
}

/**
 * How many token answers are kept as JSON: the hottest tokens'. A repeat hit then skips building its two
 * widget URLs and serializing three copies of the token, most of a cache hit's own work (CPU profile of
 * the bench's hot path). Bounded, so it costs about a MiB at most (a Video answer is 4.4 KB) however many
 * tokens are cached.
 */
const SERIALIZED_ANSWERS = 256

/**
 * The policy decides for this caller, scope, id and account; then the cache (or ARM) answers. A token
 * route and each item of a batch go through issue(); the embed routes use its steps.
 */
export function createIssuer (options: IssueOptions) {
  const { accounts, policy, tokens, metadata, webBaseUrl } = options
  // Keyed by the cached token itself: a refreshed token is a new object, so a stale answer is never found.
  // The account (its alias, after a reload) and its metadata are checked too.
  const serialized = new LRUCache<CachedToken, { account: Account; known: KnownMetadata | undefined; json: string }>({
    max: SERIALIZED_ANSWERS
  })
  const issuer = {
    /** The request's account (404 UNKNOWN_ACCOUNT for an alias that names none). */
    accountOf: (request: FastifyRequest): Account => accountOf(request, accounts()),
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
    metadataOf: (account: Account) => metadata.get(account),
    /** Authorises, then mints (or reads the cache). */
    authorisedMint: (request: FastifyRequest, scope: Scope, id: string | undefined): Promise<Issued> =>
      issuer.mint(request, issuer.authorise(request, scope, id), scope, id),
    /** authorisedMint(), answered with the token's fields. */
    async issue (request: FastifyRequest, scope: Scope, id: string | undefined) {
      const issued = await issuer.authorisedMint(request, scope, id)
      return { result: issued.result, body: tokenBody(scope, id, issued, webBaseUrl) }
    },
    /** issue(), with the answer as JSON text, the same for every request of one token, account and metadata. */
    async issueJson (request: FastifyRequest, scope: Scope, id: string | undefined): Promise<string> {
      const issued = await issuer.authorisedMint(request, scope, id)
      const { account, result: { token } } = issued
      const kept = serialized.get(token)
      if (kept !== undefined && kept.account === account && kept.known === issued.metadata) return kept.json
      const json = JSON.stringify(tokenBody(scope, id, issued, webBaseUrl))
      serialized.set(token, { account, known: issued.metadata, json })
      return json
    }
  }
  return issuer
}

function tokenBody (scope: Scope, id: string | undefined, issued: Issued, webBaseUrl: string): TokenBody {
  const { account, result, metadata: known } = issued
  const { accessToken } = result.token
  return {
    accessToken,
    scope: ARM_SCOPE_NAMES[scope],
    ...(scope === 'video' ? { videoId: id as string } : {}),
    ...(scope === 'project' ? { projectId: id as string } : {}),
    accountName: account.name,
    expiresOn: new Date(result.token.expiresAt).toISOString(),
    // Once Accounts_Get has answered: what a page needs to show the video, besides the token.
    ...(known ? { account: accountFields(account, known) } : {}),
    ...(known && scope === 'video'
      ? {
          embed: {
            player: embedUrl(webBaseUrl, 'player', known, id as string, accessToken),
            insights: embedUrl(webBaseUrl, 'insights', known, id as string, accessToken)
          }
        }
      : {})
  }
}

export type Issuer = ReturnType<typeof createIssuer>

/** The `account` object of a response: the alias, ARM name, id and location. */
export function accountFields (account: Account, known: KnownMetadata) {
  return { alias: account.alias, accountName: account.name, accountId: known.accountId, location: known.location }
}
