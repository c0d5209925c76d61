export interface RateBucketOptions {
  capacity: number
  refillPerSecond: number
  /** Clock in epoch ms. */
  now: () => number
}

export interface TakeResult {
  allowed: boolean
  /** Whole tokens left after this request. */
  remaining: number
  /** When refused: seconds until one token is back. */
  retryAfterSeconds: number
}

export interface RateBuckets {
  take(key: string): TakeResult
  /** Refill every bucket. */
  reset(): void
}

/** Token buckets, one per key, as ARM keeps them per subscription and principal. */
export function createRateBuckets ({ capacity, refillPerSecond, now }: RateBucketOptions): RateBuckets {
  const buckets = new Map<string, { tokens: number; at: number }>()
  return {
    take (key) {
      const at = now()
      const previous = buckets.get(key)
      const refilled = previous
        ? Math.min(capacity, previous.tokens + ((at - previous.at) / 1000) * refillPerSecond)
        : capacity
      if (refilled < 1) {
        buckets.set(key, { tokens: refilled, at })
        return { allowed: false, remaining: 0, retryAfterSeconds: Math.ceil((1 - refilled) / refillPerSecond) }
      }
      const tokens = refilled - 1
      buckets.set(key, { tokens, at })
      return { allowed: true, remaining: Math.floor(tokens), retryAfterSeconds: 0 }
    },
    reset () {
      buckets.clear()
    }
  }
}
