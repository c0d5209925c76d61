import type { FastifyRateLimitStore, FastifyRateLimitStoreCtor } from '@fastify/rate-limit'
import LocalStore from '@fastify/rate-limit/store/LocalStore.js'
import RedisStore from '@fastify/rate-limit/store/RedisStore.js'
import type { Redis } from 'ioredis'

type Incr = FastifyRateLimitStore['incr']
/** What @fastify/rate-limit passes a custom store's constructor (its global parameters), as far as used here. */
interface StoreParams {
  continueExceeding?: boolean
  exponentialBackoff?: boolean
}

/**
 * A rate-limit store that counts in Redis, so a caller's limit holds across the fleet, and counts in
 * this process whenever Redis cannot answer, so an outage never lifts the limits: each replica then
 * enforces the policy on its own (a caller may get up to max per window from each replica).
 */
export function redisWithLocalFallback (
  redis: Redis,
  nameSpace: string,
  onFallback: (error: Error | null) => void
): FastifyRateLimitStoreCtor {
  const wrap = (shared: FastifyRateLimitStore, local: FastifyRateLimitStore): FastifyRateLimitStore => {
    const incr: Incr = (key, callback, timeWindow, max) => {
      const counted = local.incr.bind(local, key, callback, timeWindow, max)
      // Refused at once while disconnected (no offline queue); a hung Redis costs one command timeout.
      if (redis.status !== 'ready') return counted()
      shared.incr(key, (error, result) => {
        if (!error) return callback(null, result)
        onFallback(error)
        counted()
      }, timeWindow, max)
    }
    return { incr, child: (routeOptions) => wrap(shared.child(routeOptions), local.child(routeOptions)) }
  }
  return class {
    constructor ({ continueExceeding = false, exponentialBackoff = false }: StoreParams) {
      const shared = new RedisStore(continueExceeding, exponentialBackoff, redis, nameSpace)
      return wrap(shared, new LocalStore(continueExceeding, exponentialBackoff))
    }
  } as unknown as FastifyRateLimitStoreCtor
}
