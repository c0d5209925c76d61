import { LRUCache } from 'lru-cache'
import type { Clock } from './clock.js'
import { brokerError } from './errors.js'
import {
  accountKey,
  evictedKeys,
  splitTokenKey,
  type EvictedKeys,
  type Eviction,
  type FleetEviction,
  type MintedToken,
  type TokenRequest,
  type TokenSource
} from './token-source.js'

/**
 * How a request was served: from cache, by a fresh mint, by joining a mint in flight,
 * or from cache while refreshing.
 */
export type CacheOutcome = 'hit' | 'miss' | 'coalesced' | 'refresh'

export interface CachedToken {
  accessToken: string
  /** The token's exp, in epoch ms. */
  expiresAt: number
  armRequestId: string | undefined
  /** The audit fingerprint, worked out once per token (and per HMAC key) rather than on every hit. */
  fingerprint: string
  fingerprintKeyId: string
  /** When a hit starts a background refresh: a jittered point in the refresh-ahead window. */
  refreshAt: number
}

export interface CacheResult {
  token: CachedToken
  cache: CacheOutcome
}

export interface TokenCache extends TokenSource<CacheResult> {
  /**
   * Evicts one token, or every token of an account, here and (when the tier behind is shared) across
   * the fleet; returns how many copies went, in this process or in the shared tier, whichever held more.
   */
  evict(eviction: Eviction): Promise<number>
  readonly size: number
}

export interface TokenCacheOptions {
  /** The tier behind this one: the shared cache (which evicts fleet-wide), or ARM. */
  source: TokenSource & Partial<FleetEviction>
  maxEntries: number
  minRemainingSeconds: number
  refreshAheadSeconds: number
  clock: Clock
  onRefreshError(key: string, error: unknown): void
  /** The audit's fingerprint of a token (see Auditor.fingerprint). */
  fingerprint(accessToken: string): { value: string; keyId: string }
  /** Jitter source for the refresh backoff; injectable for tests. */
  random?: () => number
  /** Where in the refresh-ahead window each token's refresh starts (0: at its start); injectable for tests. */
  refreshJitter?: () => number
}

const ASSUMED_LIFETIME_MS = 3600_000
const REFRESH_BACKOFF_BASE_MS = 1_000
const REFRESH_BACKOFF_MAX_MS = 60_000
/**
 * Refreshes start somewhere in the first three quarters of the refresh-ahead window, so tokens minted
 * together (a cold start, a deploy, a Redis flush) do not all come due together; the last quarter is
 * left for retries.
 */
const REFRESH_SPREAD = 0.75

/**
 * An LRU of issued tokens. Each entry lives until its token's exp minus the minimum remaining
 * life, so a served token always has at least that long left. Concurrent misses for one key
 * share one mint, and a hit close to the end of its life starts one background refresh.
 * Failures are never stored.
 */
export function createTokenCache (options: TokenCacheOptions): TokenCache {
  const { source, clock, onRefreshError, fingerprint, random = Math.random, refreshJitter = Math.random } = options
  const minRemainingMs = options.minRemainingSeconds * 1000
  const refreshAheadMs = options.refreshAheadSeconds * 1000
  // No TTL in the LRU: get() checks each entry's expiry exactly and drops a stale one, and without
  // ttlAutopurge an LRU TTL would reclaim nothing sooner, while costing 16 bytes per slot and a clock read per get.
  const entries = new LRUCache<string, CachedToken>({ max: options.maxEntries })
  const inFlight = new Map<string, Promise<CachedToken>>()
  // After a failed background refresh, the next attempt for that key waits: exponential, with jitter.
  const refreshRetry = new Map<string, { failures: number; notBefore: number }>()
  // Bumped by every eviction: a mint that started before one is served to its callers but not kept,
  // since it may have read the evicted token from the shared tier.
  let generation = 0
  // In-process keys name the account by a short tag standing for its accountKey in this process, so a
  // cached token does not carry its account's full identity (about 100 bytes, by the bench's memory part).
  const tags = new Map<string, string>()
  const tagOf = (account: string) => {
    let tag = tags.get(account)
    if (tag === undefined) {
      tag = tags.size.toString(36)
      tags.set(account, tag)
    }
    return tag
  }
  const localKey = ({ account, scope, id }: TokenRequest) => `${tagOf(accountKey(account))}/${scope}/${id ?? ''}`

  function drop (keys: EvictedKeys): number {
    generation++
    if ('token' in keys) {
      const { account, rest } = splitTokenKey(keys.token)
      const key = tagOf(account) + rest
      refreshRetry.delete(key)
      return entries.delete(key) ? 1 : 0
    }
    const prefix = 'account' in keys ? `${tagOf(keys.account)}/` : ''
    // Backoff state only delays a refresh: forgetting other accounts' costs at most an early retry.
    refreshRetry.clear()
    const doomed = [...entries.keys()].filter((key) => key.startsWith(prefix))
    for (const key of doomed) entries.delete(key)
    return doomed.length
  }
  source.onEvicted?.(drop)

  function refresh (key: string, request: TokenRequest): void {
    // Nobody waits for a refresh: it spends only the ARM budget that callers' misses leave.
    startMint(key, { ...request, priority: 'background' }).then(
      () => refreshRetry.delete(key),
      (error: unknown) => {
        const failures = (refreshRetry.get(key)?.failures ?? 0) + 1
        const ceiling = Math.min(REFRESH_BACKOFF_MAX_MS, REFRESH_BACKOFF_BASE_MS * 2 ** (failures - 1))
        refreshRetry.set(key, { failures, notBefore: clock.now() + ceiling / 2 + random() * (ceiling / 2) })
        onRefreshError(key, error)
      }
    )
  }

  function startMint (key: string, request: TokenRequest): Promise<CachedToken> {
    const issuedAt = clock.now()
    const startedIn = generation
    const pending = source
      .get(request)
      .then((minted: MintedToken) => {
        const { value, keyId } = fingerprint(minted.accessToken)
        const expiresAt = minted.expiresAt ?? issuedAt + ASSUMED_LIFETIME_MS
        const token: CachedToken = {
          accessToken: minted.accessToken,
          expiresAt,
          armRequestId: minted.armRequestId,
          fingerprint: value,
          fingerprintKeyId: keyId,
          refreshAt: expiresAt - minRemainingMs - refreshAheadMs * (1 - REFRESH_SPREAD * refreshJitter())
        }
        if (token.expiresAt - minRemainingMs <= clock.now()) {
          throw brokerError('ARM_ERROR', {
            details: [{ code: 'TokenLifetimeTooShort', message: 'ARM issued a token that expires too soon to serve' }]
          })
        }
        if (generation === startedIn) entries.set(key, token)
        return token
      })
      .finally(() => inFlight.delete(key))
    inFlight.set(key, pending)
    return pending
  }

  return {
    get size () {
      return entries.size
    },
    async evict (eviction) {
      const local = drop(evictedKeys(eviction))
      return Math.max(local, (await source.evict?.(eviction)) ?? 0)
    },
    async get (request) {
      const key = localKey(request)
      const now = clock.now()
      let cached = entries.get(key)
      // Exact to the millisecond: a token is never served with less than the minimum life left.
      if (cached !== undefined && now >= cached.expiresAt - minRemainingMs) {
        entries.delete(key)
        refreshRetry.delete(key)
        cached = undefined
      }
      if (cached !== undefined) {
        const backingOff = now < (refreshRetry.get(key)?.notBefore ?? 0)
        if (now < cached.refreshAt || inFlight.has(key) || backingOff) return { token: cached, cache: 'hit' }
        refresh(key, request)
        return { token: cached, cache: 'refresh' }
      }
      const pending = inFlight.get(key)
      if (pending !== undefined) return { token: await pending, cache: 'coalesced' }
      return { token: await startMint(key, request), cache: 'miss' }
    }
  }
}
