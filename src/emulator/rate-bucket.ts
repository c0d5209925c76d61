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
  /** Gives back one token taken by a request that another limit then refused. */
  refund(key: string): void
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
    refund (key) {
      const bucket = buckets.get(key)
      if (bucket) bucket.tokens = Math.min(capacity, bucket.tokens + 1)
    },
    reset () {
      buckets.clear()
    }
  }
}

/** ARM's write limit, per subscription and principal, and the subscription-wide cap across principals. */
export interface WriteLimitOptions {
  /** Bucket size per subscription and principal (ARM: 200). */
  capacity: number
  /** Tokens back per second (ARM: 10). */
  refillPerSecond: number
  /** The subscription-wide bucket is this many times the principal's, shared by every principal (ARM: 15). */
  subscriptionMultiplier: number
}

export const ARM_WRITE_LIMITS: Readonly<WriteLimitOptions> = {
  capacity: 200,
  refillPerSecond: 10,
  subscriptionMultiplier: 15
}

export interface WriteLimits {
  take(subscriptionId: string, principalId: string): TakeResult
  reset(): void
}

/**
 * A write must pass both buckets, as ARM documents: "a global subscription limit that is 15 times the
 * individual service principal limit", applied across all principals.
 * https://learn.microsoft.com/azure/azure-resource-manager/management/request-limits-and-throttling
 */
export function createWriteLimits (options: WriteLimitOptions & { now: () => number }): WriteLimits {
  const { capacity, refillPerSecond, subscriptionMultiplier, now } = options
  const principals = createRateBuckets({ capacity, refillPerSecond, now })
  const subscriptions = createRateBuckets({
    capacity: capacity * subscriptionMultiplier,
    refillPerSecond: refillPerSecond * subscriptionMultiplier,
    now
  })
  return {
    take (subscriptionId, principalId) {
      const subscription = subscriptionId.toLowerCase()
      const global = subscriptions.take(subscription)
      if (!global.allowed) return global
      const own = principals.take(`${subscription}|${principalId}`)
      if (!own.allowed) subscriptions.refund(subscription)
      return { ...own, remaining: Math.min(own.remaining, global.remaining) }
    },
    reset () {
      principals.reset()
      subscriptions.reset()
    }
  }
}
