// A redis-server of our own as a child process: an ephemeral loopback port, no persistence.
// Used by the tests (test/support/redis-server.ts) and the bench's capacity part; the broker never imports it.
import { spawn, type ChildProcess } from 'node:child_process'
import { once } from 'node:events'
import { freePort } from './broker-process.js'

export interface RedisProcess {
  url: string
  port: number
  kill(): Promise<void>
  /** Starts it again on the same port, empty. */
  restart(): Promise<void>
}

export async function startRedisProcess (): Promise<RedisProcess> {
  const port = await freePort()
  let child: ChildProcess
  const start = async () => {
    const args = ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no']
    const started = spawn('redis-server', args, { stdio: ['ignore', 'pipe', 'inherit'] })
    child = started
    let output = ''
    await new Promise<void>((resolve, reject) => {
      started.stdout.on('data', (chunk: Buffer) => {
        output += chunk.toString()
        if (output.includes('Ready to accept connections')) resolve()
      })
      /* c8 ignore next 4: redis-server failing to start (a port taken meanwhile, or not installed) fails the run */
      started.once('exit', (code) => reject(new Error(`redis-server exited with ${code}: ${output}`)))
      started.once('error', (error) =>
        reject(new Error(`redis-server could not start (${error.message}); on Debian: apt-get install redis-server`))
      )
    })
  }
  const kill = async () => {
    if (child.exitCode !== null || child.signalCode !== null) return
    const exited = once(child, 'exit')
    child.kill('SIGKILL')
    await exited
  }
  await start()
  return { url: `redis://127.0.0.1:${port}`, port, kill, restart: start }
}
