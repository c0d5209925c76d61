import type { Redis } from 'ioredis'
import type { Logger } from 'pino'
import { createCircuitBreaker } from './circuit-breaker.js'
import type { Clock } from './clock.js'
import { expectedFault } from './logger.js'
import {
  backgroundFloor,
  type LocalThrottle,
  type Reservation,
  type ThrottleState,
  type WriteBucket
} from './write-budget.js'

// The bucket and its refill, in Redis and on Redis's clock (TIME), so replicas with skewed clocks agree.
const REFILL = `
local t = redis.call('time')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local burst = tonumber(ARGV[1])
local rate = tonumber(ARGV[2])
local b = redis.call('hmget', KEYS[1], 'tokens', 'at')
local tokens = tonumber(b[1]) or burst
local at = tonumber(b[2]) or now
tokens = math.min(burst, tokens + math.max(0, now - at) * rate / 1000)
local function save ()
  redis.call('hset', KEYS[1], 'tokens', tostring(tokens), 'at', tostring(now))
  redis.call('pexpire', KEYS[1], math.ceil(burst * 1000 / rate) + 60000)
end
`
// KEYS: bucket, hold. ARGV: burst, perSecond, maxWaitMs, background (1/0), floor.
// Returns {granted (1/0), reason, ms}: a reservation that waits `ms`, or a refusal to come back after `ms`.
const RESERVE_SCRIPT = `${REFILL}
local held = redis.call('pttl', KEYS[2])
if held > 0 then return {0, 'held', held} end
local wait = 0
if tokens < 1 then wait = math.ceil((1 - tokens) * 1000 / rate) end
if ARGV[4] == '1' and tokens < tonumber(ARGV[5]) + 1 then
  return {0, 'background', math.max(wait, math.ceil(1000 / rate))}
end
if wait > tonumber(ARGV[3]) then return {0, 'empty', wait} end
tokens = tokens - 1
save()
return {1, 'granted', wait}
`
// KEYS: bucket. ARGV: burst, perSecond, remaining. ARM's own count only ever lowers the estimate.
const OBSERVE_SCRIPT = `${REFILL}
tokens = math.min(tokens, tonumber(ARGV[3]))
save()
return 1
`
// KEYS: hold. ARGV: ms. A shorter hold never shortens the current one.
const HOLD_SCRIPT = `
if redis.call('pttl', KEYS[1]) < tonumber(ARGV[1]) then redis.call('set', KEYS[1], '1', 'PX', ARGV[1]) end
return 1
`

export interface FleetThrottleOptions {
  redis: Redis
  bucket: WriteBucket
  /** This replica's state: the fallback while Redis fails, and the view the gate chooses identities by. */
  local: LocalThrottle
  clock: Clock
  logger: Logger
  onCircuitChange?: (open: boolean) => void
  circuitOpenMs?: number
}

/**
 * One throttle state for the fleet: a token bucket per (identity, subscription) in Redis, taken from
 * atomically by a Lua script, and a hold key set on a 429 for its Retry-After. Every replica paces to
 * the one bucket and honours every replica's 429. If Redis fails, each replica falls back to its own state.
 */
export function createFleetThrottle (options: FleetThrottleOptions): ThrottleState {
  const { redis, bucket, local, logger } = options
  const floor = backgroundFloor(bucket)
  const breaker = createCircuitBreaker({
    clock: options.clock,
    failureThreshold: 3,
    openMs: options.circuitOpenMs ?? 5_000,
    onChange: (state, error) => {
      /* c8 ignore next: token-path always passes onCircuitChange; the unit test does not */
      options.onCircuitChange?.(state === 'open')
      if (state === 'open') logger.warn({ err: expectedFault(error) }, 'redis failing: throttle state per replica')
      /* c8 ignore next: the fleet-throttle test kills Redis but does not bring it back */
      else logger.info('redis answering again: ARM throttle state is shared')
    }
  })
  // A hash tag keeps a key's bucket and hold in one cluster slot.
  const redisKey = (kind: 'bucket' | 'hold', key: string) => `vi-token-broker:arm:{${key}}:${kind}`

  return {
    async reserve (key, reserveOptions) {
      const answer = await breaker.run(
        () =>
          redis.eval(
            RESERVE_SCRIPT,
            2,
            redisKey('bucket', key),
            redisKey('hold', key),
            bucket.burst,
            bucket.perSecond,
            Math.max(0, Math.floor(reserveOptions.maxWaitMs)),
            /* c8 ignore next: background refreshes are deferred locally before they reach Redis in the tests */
            reserveOptions.background ? 1 : 0,
            floor
          ) as Promise<[number, string, number]>,
        null
      )
      if (answer === null) return local.reserve(key, reserveOptions)
      const [granted, reason, ms] = answer
      if (granted === 1) return { granted: true, waitMs: ms }
      // Another replica's 429: this replica's view learns it, so its next mint goes elsewhere at once.
      if (reason === 'held') await local.hold(key, ms)
      return { granted: false, reason: reason as Exclude<Reservation, { granted: true }>['reason'], retryAfterMs: ms }
    },
    async hold (key, ms) {
      await breaker.run(() => redis.eval(HOLD_SCRIPT, 1, redisKey('hold', key), Math.ceil(ms)), null)
    },
    async observe (key, remaining) {
      await breaker.run(
        () => redis.eval(OBSERVE_SCRIPT, 1, redisKey('bucket', key), bucket.burst, bucket.perSecond, remaining),
        null
      )
    }
  }
}
