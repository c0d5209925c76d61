import { once } from 'node:events'
import { setTimeout as sleep } from 'node:timers/promises'
import type { TokenCredential } from '@azure/identity'
import { Redis } from 'ioredis'
import type { Logger } from 'pino'
import type { RedisConfig } from './config.js'
import { expectedFault } from './logger.js'

export const REDIS_ENTRA_SCOPE = 'https://redis.azure.com/.default'
const REFRESH_BEFORE_EXPIRY_MS = 5 * 60_000
const STARTUP_WAIT_MS = 2_000

/**
 * A Redis client that fails fast instead of queueing: commands time out after REDIS_COMMAND_TIMEOUT_MS
 * and are refused while disconnected, so Redis trouble becomes a cache miss, not a slow request.
 * It reconnects by itself. rediss:// URLs use TLS (Azure Cache for Redis listens on 6380).
 */
export async function createRedisClient (
  config: RedisConfig,
  credential: TokenCredential,
  logger: Logger
): Promise<Redis> {
  const client = new Redis(config.url, {
    lazyConnect: true,
    commandTimeout: config.commandTimeoutMs,
    connectTimeout: 2_000,
    enableOfflineQueue: false,
    maxRetriesPerRequest: 0,
    retryStrategy: (attempt) => Math.min(attempt * 200, 2_000)
  })
  // Connection errors repeat at every reconnect attempt; the circuit breaker reports the state change.
  client.on('error', (error: Error) => logger.debug({ err: expectedFault(error) }, 'redis connection error'))
  if (config.entra) await useEntraAuthentication(client, config.entra.username, credential, logger)
  client
    .connect()
    .catch((error: Error) => logger.warn({ err: expectedFault(error) }, 'redis not reachable yet; will keep trying'))
  // Give Redis a moment before serving, so a fresh replica does not mint what the fleet already has;
  // but never wait long: Redis is an optimisation, not a dependency.
  await Promise.race([once(client, 'ready'), sleep(STARTUP_WAIT_MS)]).catch(() => {})
  return client
}

/**
 * Microsoft Entra authentication to Azure Cache for Redis: the identity's token is the password,
 * renewed before it expires.
 */
async function useEntraAuthentication (
  client: Redis,
  username: string,
  credential: TokenCredential,
  logger: Logger
): Promise<void> {
  const renew = async (): Promise<void> => {
    try {
      const token = await credential.getToken(REDIS_ENTRA_SCOPE)
      if (!token) throw new Error('no token for Azure Cache for Redis')
      client.options.username = username
      client.options.password = token.token
      if (client.status === 'ready') await client.auth(username, token.token)
      setTimeout(
        () => void renew(),
        Math.max(60_000, token.expiresOnTimestamp - Date.now() - REFRESH_BEFORE_EXPIRY_MS)
      ).unref()
    } catch (error) {
      logger.warn({ err: expectedFault(error) }, 'could not renew the Entra token for Redis; retrying in 30 s')
      setTimeout(() => void renew(), 30_000).unref()
    }
  }
  await renew()
}
