import { spawn, spawnSync, type ChildProcess } from 'node:child_process'
import { once } from 'node:events'
import type { Test } from 'tap'
import { freePort } from '../../scripts/broker-process.js'

export interface RedisServer {
  url: string
  port: number
  kill(): Promise<void>
  restart(): Promise<void>
}

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

/** A real redis-server of our own on an ephemeral loopback port, without persistence. */
export async function startRedis (t: Test): Promise<RedisServer> {
  const port = await freePort()
  let child: ChildProcess | undefined
  const start = async () => {
    child = spawn('redis-server', ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no'], {
      stdio: ['ignore', 'pipe', 'inherit']
    })
    let output = ''
    await new Promise<void>((resolve, reject) => {
      child?.stdout?.on('data', (chunk: Buffer) => {
        output += chunk.toString()
        if (output.includes('Ready to accept connections')) resolve()
      })
      child?.once('exit', (code) => reject(new Error(`redis-server exited with ${code}: ${output}`)))
    })
  }
  const kill = async () => {
    if (!child || child.exitCode !== null || child.signalCode !== null) return
    const exited = once(child, 'exit')
    child.kill('SIGKILL')
    await exited
  }
  await start()
  t.teardown(kill)
  return { url: `redis://127.0.0.1:${port}`, port, kill, restart: start }
}
