import { createHash, randomUUID } from 'node:crypto'
import { setTimeout as sleep } from 'node:timers/promises'
import type { Redis } from 'ioredis'
import type { Logger } from 'pino'
import { createCircuitBreaker } from './circuit-breaker.js'
import type { Clock } from './clock.js'
import { brokerError } from './errors.js'
import { createEvictionChannel } from './eviction-channel.js'
import { expectedFault } from './logger.js'
import type { Metrics } from './metrics.js'
import { open, seal, type Keyring } from './token-sealer.js'
import {
  accountKey,
  evictedKeys,
  tokenKey,
  type FleetEviction,
  type MintedToken,
  type TokenRequest,
  type TokenSource
} from './token-source.js'

const POLL_MS = 25
// Deletes the lock only if it still holds our token: a lock that expired and was taken by another
// replica is not ours to release.
const RELEASE_SCRIPT =
  "if redis.call('get', KEYS[1]) == ARGV[1] then return redis.call('del', KEYS[1]) else return 0 end"

export interface SharedCacheOptions {
  /** The tier behind this one: ARM. */
  source: TokenSource
  redis: Redis
  /** A second connection, for the eviction channel: a subscribed connection can run no other command. */
  subscriber: Redis
  /** The ring in force; it changes when CACHE_ENCRYPTION_KEY_FILE does. */
  keyring: () => Keyring
  clock: Clock
  logger: Logger
  metrics: Pick<Metrics, 'sharedCache' | 'redisCircuit'>
  minRemainingSeconds: number
  refreshAheadSeconds: number
  /** How long a replica holds the mint lock, and how long the others wait: the ARM deadline. */
  lockMs: number
  /** How long the circuit stays open before Redis is probed again. */
  circuitOpenMs?: number
}

const sha256 = (text: string) => createHash('sha256').update(text).digest('hex')
/** Every token key of one account starts with this, so evicting all of them touches no other account's. */
const accountPrefix = (account: string) => `vi-token-broker:token:${sha256(account)}:`
/** The Redis key of a token: hashes, so Redis shows no account, scope or id. */
export const sharedTokenKey = (request: TokenRequest) =>
  accountPrefix(accountKey(request.account)) + sha256(tokenKey(request))

/**
 * The Redis tier behind each replica's LRU: a token the whole fleet shares, read from Redis or
 * minted by exactly one replica while the others wait for it. Any Redis trouble falls back to
 * minting locally. Values are sealed with AES-256-GCM, bound to their key; keys are hashes.
 * An eviction deletes the shared copies and is published to every replica.
 */
export function createSharedCache (options: SharedCacheOptions): TokenSource & FleetEviction {
  const { source, redis, keyring, clock, logger, metrics } = options
  const openMs = options.circuitOpenMs ?? 5_000
  // While open, Redis is probed in the background too: hits served from memory never touch it.
  let probe: NodeJS.Timeout | undefined
  const breaker = createCircuitBreaker({
    clock,
    failureThreshold: 5,
    openMs,
    onChange: (state, error) => {
      metrics.redisCircuit.set(state === 'open' ? 1 : 0)
      if (state === 'open') {
        logger.warn(
          { err: expectedFault(error) },
          'redis failing: circuit open, serving from memory and ARM only'
        )
        probe ??= setInterval(() => void breaker.run(() => redis.ping(), null), openMs).unref()
      } else {
        logger.info('redis answering again: circuit closed')
        clearInterval(probe)
        probe = undefined
      }
    }
  })

  const lockKey = (key: string) => `vi-token-broker:lock:${sha256(key)}`
  const evictions = createEvictionChannel({ ...options, logger })

  /**
   * A sealed token that can still be served, or undefined; for a background refresh, only one with more than
   * the refresh-ahead window left.
   */
  async function read (request: TokenRequest, key: string): Promise<MintedToken | undefined> {
    const sealed = await breaker.run(() => redis.get(sharedTokenKey(request)), null)
    if (sealed === null) return undefined
    try {
      const token = JSON.parse(open(keyring(), sealed, key)) as MintedToken
      // A caller is served a token that is due for refresh rather than wait for (or, short of ARM writes, be
      // refused) a mint; the refresh that its next hit starts replaces it, so refresh-ahead still works.
      const floorMs = request.priority === 'background' ? options.refreshAheadSeconds * 1000 : 0
      return freshFor(token) > floorMs ? token : undefined
    } catch (error) {
      metrics.sharedCache.inc({ result: 'rejected' })
      logger.warn({ err: expectedFault(error) }, 'a shared cache value failed to open; treated as a miss')
      return undefined
    }
  }

  /**
   * Milliseconds the token can still be served: exp minus the minimum remaining life. A token whose
   * exp cannot be read is not shared (0): other replicas could not tell when it expires.
   */
  function freshFor ({ expiresAt }: MintedToken): number {
    return expiresAt === undefined ? 0 : expiresAt - options.minRemainingSeconds * 1000 - clock.now()
  }

  async function write (request: TokenRequest, key: string, token: MintedToken): Promise<void> {
    const ttl = Math.floor(freshFor(token))
    if (ttl <= 0) return
    await breaker.run(
      () => redis.set(sharedTokenKey(request), seal(keyring(), JSON.stringify(token), key), 'PX', ttl),
      null
    )
  }

  async function tryLock (key: string): Promise<string | undefined> {
    const owner = randomUUID()
    const result = await breaker.run(() => redis.set(lockKey(key), owner, 'PX', options.lockMs, 'NX'), null)
    if (result === 'OK') return owner
    // With the circuit open, act as if the lock were ours: minting locally is the fallback. A single
    // slow or failed command is not an outage: the caller keeps polling until its deadline.
    return result === null && breaker.state === 'open' ? owner : undefined
  }

  async function release (key: string, owner: string): Promise<void> {
    await breaker.run(() => redis.eval(RELEASE_SCRIPT, 1, lockKey(key), owner), 0)
  }

  /** Deletes every shared token of one account: SCAN for its prefix, so other accounts' keys stay. */
  async function deleteAccount (account: string): Promise<number> {
    let deleted = 0
    for await (const batch of redis.scanStream({ match: `${accountPrefix(account)}*`, count: 500 })) {
      if ((batch as string[]).length > 0) deleted += await redis.unlink(...(batch as string[]))
    }
    return deleted
  }

  return {
    onEvicted: evictions.add,
    async evict (eviction) {
      try {
        const deleted =
          'scope' in eviction
            ? await redis.del(sharedTokenKey(eviction))
            : await deleteAccount(accountKey(eviction.account))
        await evictions.publish(evictedKeys(eviction))
        return deleted
      } catch (error) {
        logger.warn(
          { err: expectedFault(error) },
          'an eviction could not reach Redis; other replicas may still hold the token'
        )
        throw brokerError('EVICTION_INCOMPLETE', { retryAfterSeconds: Math.ceil(openMs / 1000), cause: error })
      }
    },
    async get (request) {
      const key = tokenKey(request)
      const mint = () => source.get(request)
      const deadline = performance.now() + options.lockMs
      for (;;) {
        const shared = await read(request, key)
        if (shared) {
          metrics.sharedCache.inc({ result: 'hit' })
          return shared
        }
        const owner = await tryLock(key)
        if (owner !== undefined) {
          try {
            // Another replica may have written the value and released the lock since our read.
            const written = await read(request, key)
            // A race (another replica writes and unlocks between our read and our lock)
            // that the fleet test hits under load but no test can time.
            /* c8 ignore next 4: the race above */
            if (written) {
              metrics.sharedCache.inc({ result: 'hit' })
              return written
            }
            const minted = await mint()
            await write(request, key, minted)
            metrics.sharedCache.inc({ result: 'minted' })
            return minted
          } finally {
            await release(key, owner)
          }
        }
        // Another replica is minting: wait for its value, or for its lock to expire if it died.
        if (performance.now() >= deadline) {
          metrics.sharedCache.inc({ result: 'wait-timeout' })
          return mint()
        }
        await sleep(POLL_MS)
      }
    }
  }
}
