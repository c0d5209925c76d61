import { decodeJwt } from 'jose'
import { LRUCache } from 'lru-cache'
import type { MintedToken } from './arm.js'
import type { Clock } from './clock.js'
import { brokerError } from './errors.js'

/** How a request was served: from cache, by a fresh mint, by joining a mint in flight, or from cache while refreshing. */
export type CacheOutcome = 'hit' | 'miss' | 'coalesced' | 'refresh'

export interface CachedToken {
  accessToken: string
  /** The token's exp, in epoch ms. */
  expiresAt: number
  armRequestId: string | undefined
}

export interface CacheResult {
  token: CachedToken
  cache: CacheOutcome
}

export interface TokenCache {
  get(key: string, mint: () => Promise<MintedToken>): Promise<CacheResult>
  readonly size: number
}

export interface TokenCacheOptions {
  maxEntries: number
  minRemainingSeconds: number
  refreshAheadSeconds: number
  clock: Clock
  onRefreshError(key: string, error: unknown): void
}

const ASSUMED_LIFETIME_MS = 3600_000

/**
 * An LRU of issued tokens. Each entry lives until its token's exp minus the minimum remaining
 * life, so a served token always has at least that long left. Concurrent misses for one key
 * share one mint, and a hit close to the end of its life starts one background refresh.
 * Failures are never stored.
 */
export function createTokenCache(options: TokenCacheOptions): TokenCache {
  const { clock, onRefreshError } = options
  const minRemainingMs = options.minRemainingSeconds * 1000
  const refreshAheadMs = options.refreshAheadSeconds * 1000
  const entries = new LRUCache<string, CachedToken>({ max: options.maxEntries, perf: clock, ttlResolution: 0 })
  const inFlight = new Map<string, Promise<CachedToken>>()

  function startMint(key: string, mint: () => Promise<MintedToken>): Promise<CachedToken> {
    const issuedAt = clock.now()
    const pending = mint()
      .then((minted) => {
        const token: CachedToken = {
          accessToken: minted.accessToken,
          expiresAt: readExpiry(minted.accessToken) ?? issuedAt + ASSUMED_LIFETIME_MS,
          armRequestId: minted.armRequestId
        }
        const ttl = token.expiresAt - minRemainingMs - clock.now()
        if (ttl <= 0) {
          throw brokerError('ARM_ERROR', {
            details: [{ code: 'TokenLifetimeTooShort', message: 'ARM issued a token that expires too soon to serve' }]
          })
        }
        entries.set(key, token, { ttl })
        return token
      })
      .finally(() => inFlight.delete(key))
    inFlight.set(key, pending)
    return pending
  }

  return {
    get size() {
      return entries.size
    },
    async get(key, mint) {
      const now = clock.now()
      let cached = entries.get(key)
      // The LRU's TTL reclaims memory; this check is the guarantee, exact to the millisecond.
      if (cached !== undefined && now >= cached.expiresAt - minRemainingMs) {
        entries.delete(key)
        cached = undefined
      }
      if (cached !== undefined) {
        const refreshAt = cached.expiresAt - minRemainingMs - refreshAheadMs
        if (now < refreshAt || inFlight.has(key)) return { token: cached, cache: 'hit' }
        startMint(key, mint).catch((error: unknown) => onRefreshError(key, error))
        return { token: cached, cache: 'refresh' }
      }
      const pending = inFlight.get(key)
      if (pending !== undefined) return { token: await pending, cache: 'coalesced' }
      return { token: await startMint(key, mint), cache: 'miss' }
    }
  }
}

/** The token's exp claim in epoch ms, or undefined when it cannot be read. */
function readExpiry(accessToken: string): number | undefined {
  try {
    const { exp } = decodeJwt(accessToken)
    return typeof exp === 'number' ? exp * 1000 : undefined
  } catch {
    return undefined
  }
}
