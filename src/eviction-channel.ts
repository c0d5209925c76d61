import type { Redis } from 'ioredis'
import type { Logger } from 'pino'
import { expectedFault } from './logger.js'
import { open, seal, type Keyring } from './token-sealer.js'
import type { EvictedKeys } from './token-source.js'

export const EVICT_CHANNEL = 'vi-token-broker:evict'

export interface EvictionChannel {
  /** Tells every replica (this one included) what was evicted. Throws when Redis cannot be reached. */
  publish(keys: Exclude<EvictedKeys, { all: true }>): Promise<void>
  add(listener: (keys: EvictedKeys) => void): void
}

/**
 * Evictions over Redis pub/sub. Messages are sealed like cached values, so they name no account or
 * id in clear, and only brokers holding the key can send one. A replica whose subscription dropped
 * may have missed evictions: when it is listening again, its listeners are told to drop everything.
 */
export function createEvictionChannel (options: {
  redis: Redis
  subscriber: Redis
  /** The ring in force; it changes when CACHE_ENCRYPTION_KEY_FILE does. */
  keyring: () => Keyring
  logger: Logger
}): EvictionChannel {
  const { redis, subscriber, keyring, logger } = options
  const listeners: Array<(keys: EvictedKeys) => void> = []
  const tell = (keys: EvictedKeys) => {
    for (const listener of listeners) listener(keys)
  }
  let listening = false
  let missed = false

  const subscribe = () =>
    subscriber.subscribe(EVICT_CHANNEL).then(
      () => {
        listening = true
        if (missed) {
          missed = false
          logger.info('listening for evictions again: dropping the tokens held in memory')
          tell({ all: true })
        }
      },
      (error: unknown) => logger.warn({ err: expectedFault(error) }, 'could not subscribe to evictions; will retry')
    )
  subscriber.on('error', (error: Error) => logger.debug({ err: expectedFault(error) }, 'redis subscriber error'))
  subscriber.on('ready', () => void subscribe())
  subscriber.on('close', () => {
    if (listening) missed = true
    listening = false
  })
  // A connection that is ready already (the server's) will not say so again.
  if (subscriber.status === 'ready') void subscribe()

  // The connection is this channel's alone, so every message on it is an eviction.
  subscriber.on('message', (_channel: string, message: string) => {
    try {
      const keys = JSON.parse(open(keyring(), message, EVICT_CHANNEL)) as EvictedKeys
      if (typeof (keys as { token?: unknown }).token !== 'string' &&
        typeof (keys as { account?: unknown }).account !== 'string') throw new Error('not an eviction')
      tell(keys)
    } catch (error) {
      logger.warn({ err: expectedFault(error) }, 'an eviction message failed to open; ignored')
    }
  })

  return {
    add: (listener) => void listeners.push(listener),
    async publish (keys) {
      await redis.publish(EVICT_CHANNEL, seal(keyring(), JSON.stringify(keys), EVICT_CHANNEL))
    }
  }
}
