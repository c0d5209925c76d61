import { spawnSync } from 'node:child_process'
import { setTimeout as sleep } from 'node:timers/promises'
import { Redis } from 'ioredis'
import type { Test } from 'tap'
import { startRedisProcess, type RedisProcess } from '../../scripts/redis-process.js'

export type RedisServer = RedisProcess

/**
 * True when redis-server is missing here. CI installs it and sets REDIS_REQUIRED=1, which turns
 * a missing server into a failure; a developer machine without it skips the Redis tests.
 */
export function missingRedis (t: Test): boolean {
  if (spawnSync('redis-server', ['--version']).status === 0) return false
  if (process.env.REDIS_REQUIRED === '1') t.fail('redis-server is not installed')
  else t.test('Redis tests', { skip: 'redis-server is not installed (apt-get install redis-server)' }, async () => {})
  return true
}

/** A real redis-server of our own on an ephemeral loopback port, without persistence; killed at teardown. */
export async function startRedis (t: Test): Promise<RedisServer> {
  const redis = await startRedisProcess()
  t.teardown(redis.kill)
  return redis
}

/**
 * A client for one broker replica, as src/server.ts makes it: no retries or offline queue, so a command
 * fails at once while Redis is away. Waits (up to 2 s) until it is connected; disconnected at teardown.
 */
export async function replicaRedis (t: Test, url: string): Promise<Redis> {
  const redis = new Redis(url, { maxRetriesPerRequest: 0, enableOfflineQueue: false })
  redis.on('error', () => {})
  t.teardown(() => redis.disconnect())
  for (let i = 0; i < 100 && redis.status !== 'ready'; i++) await sleep(20)
  return redis
}
