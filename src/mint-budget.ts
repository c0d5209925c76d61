import { createHash } from 'node:crypto'
import type { Redis } from 'ioredis'
import { LRUCache } from 'lru-cache'
import type { Logger } from 'pino'
import { createCircuitBreaker } from './circuit-breaker.js'
import type { Clock } from './clock.js'
import { brokerError } from './errors.js'
import { expectedFault } from './logger.js'
import type { Metrics } from './metrics.js'
import type { MintedToken, TokenSource } from './token-source.js'

// A fixed window per caller, on Redis's clock: a refusal does not count, and the first mint starts the window.
// KEYS: counter. ARGV: max, window ms. Returns {granted (1/0), ms until the window ends}.
const TAKE_SCRIPT = `
local n = tonumber(redis.call('get', KEYS[1]) or '0')
if n >= tonumber(ARGV[1]) then return {0, redis.call('pttl', KEYS[1])} end
if redis.call('incr', KEYS[1]) == 1 then redis.call('pexpire', KEYS[1], ARGV[2]) end
return {1, 0}
`
// A mint that never reached ARM (or failed there) gives its charge back.
const GIVE_BACK_SCRIPT = `
if tonumber(redis.call('get', KEYS[1]) or '0') > 0 then redis.call('decr', KEYS[1]) end
return 1
`
const LOCAL_CALLERS = 10_000

type Charge = { granted: true; giveBack(): Promise<unknown> } | { granted: false; waitMs: number }

export interface MintBudgetOptions {
  /** The tier behind this one: ARM. Only what reaches it is a mint. */
  source: TokenSource
  /** With Redis, a caller's mints are counted across the fleet; without (or while it fails), per replica. */
  redis?: Redis | undefined
  clock: Clock
  logger: Logger
  metrics: Pick<Metrics, 'mintBudgetRefusals'>
  circuitOpenMs?: number
}

/**
 * Counts each caller's mints against its policy's mintBudget, just in front of ARM: a token served from
 * either cache, or by joining another caller's mint, costs nothing; the caller whose request starts a mint
 * is charged. A caller over its budget gets 429 MINT_BUDGET_EXCEEDED until its window ends.
 */
export function createMintBudget (options: MintBudgetOptions): TokenSource {
  const { source, redis, logger, metrics, clock } = options
  const local = new LRUCache<string, { count: number; endsAt: number }>({ max: LOCAL_CALLERS })
  const breaker = createCircuitBreaker({
    clock,
    failureThreshold: 3,
    openMs: options.circuitOpenMs ?? 5_000,
    onChange: (state, error) => {
      if (state === 'open') logger.warn({ err: expectedFault(error) }, 'redis failing: mint budgets per replica')
      /* c8 ignore next: the mint-budget test stops Redis but does not bring it back */
      else logger.info('redis answering again: mint budgets counted across the fleet')
    }
  })
  const redisKey = (caller: string) =>
    `vi-token-broker:mint-budget:${createHash('sha256').update(caller).digest('hex')}`

  /** A caller's window in this replica: how many mints it has had, and when the window ends. */
  function windowOf (caller: string, windowMs: number): { count: number; endsAt: number } {
    const now = clock.now()
    let window = local.get(caller)
    if (window === undefined || now >= window.endsAt) {
      window = { count: 0, endsAt: now + windowMs }
      local.set(caller, window)
    }
    return window
  }

  /** Charges one mint, in Redis or else here; a refusal says how long until the caller's window ends. */
  async function take (caller: string, max: number, windowMs: number): Promise<Charge> {
    const key = redisKey(caller)
    const answer = redis
      ? await breaker.run(() => redis.eval(TAKE_SCRIPT, 1, key, max, windowMs) as Promise<[number, number]>, null)
      : null
    if (answer !== null) {
      if (answer[0] !== 1) return { granted: false, waitMs: Math.max(1, answer[1]) }
      return { granted: true, giveBack: () => breaker.run(() => (redis as Redis).eval(GIVE_BACK_SCRIPT, 1, key), null) }
    }
    const window = windowOf(caller, windowMs)
    if (window.count >= max) return { granted: false, waitMs: window.endsAt - clock.now() }
    window.count++
    return {
      granted: true,
      giveBack: async () => {
        window.count = Math.max(0, window.count - 1)
      }
    }
  }

  return {
    async get (request): Promise<MintedToken> {
      const budget = request.mintBudget
      if (budget === undefined) return source.get(request)
      const charge = await take(budget.caller, budget.max, budget.timeWindowMs)
      if (!charge.granted) {
        metrics.mintBudgetRefusals.inc({ priority: request.priority ?? 'caller' })
        throw brokerError('MINT_BUDGET_EXCEEDED', {
          retryAfterSeconds: Math.ceil(charge.waitMs / 1000),
          reason: 'mint_budget_exceeded'
        })
      }
      try {
        return await source.get(request)
      } catch (error) {
        await charge.giveBack()
        throw error
      }
    }
  }
}
