// Starts bench/server.ts (one server under test: the broker with its emulator, or a baseline) as a
// child process and talks to it over the IPC channel.
import { fork } from 'node:child_process'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { NO_PROXY_ENV, type ServerArgs } from './common.js'

export const ROOT = fileURLToPath(new URL('..', import.meta.url))

export interface BenchServer {
  url: string
  pid: number
  /** The broker's JWKS (in jwks mode) and one caller token per bench caller. */
  jwksUri: string | undefined
  callerTokens: string[]
  call<T = unknown>(cmd: string, payload?: Record<string, unknown>): Promise<T>
  close(): Promise<void>
}

interface Ready {
  type: 'ready'
  url: string
  jwksUri?: string
  callerTokens?: string[]
}

interface Reply {
  id: number
  result?: unknown
  error?: string
}

export async function startServer (args: ServerArgs): Promise<BenchServer> {
  const child = fork(join(ROOT, 'bench/server.ts'), [JSON.stringify(args)], {
    execArgv: [
      '--import',
      'tsx',
      ...(process.env.BENCH_CPU_PROF ? ['--cpu-prof', `--cpu-prof-dir=${process.env.BENCH_CPU_PROF}`] : [])
    ],
    env: { ...process.env, ...NO_PROXY_ENV },
    stdio: ['ignore', 'inherit', 'inherit', 'ipc']
  })
  let nextId = 1
  const pending = new Map<number, { resolve(value: unknown): void; reject(error: Error): void }>()
  const info = await new Promise<Ready>((resolve, reject) => {
    child.once('exit', (code) => {
      reject(new Error(`bench server (${args.role}) exited with ${code} before it was ready`))
    })
    child.on('message', (raw) => {
      const message = raw as Ready | Reply
      if ('type' in message) return resolve(message)
      const waiter = pending.get(message.id)
      if (!waiter) return
      pending.delete(message.id)
      if (message.error) waiter.reject(new Error(message.error))
      else waiter.resolve(message.result)
    })
  })
  const call = <T>(cmd: string, payload: Record<string, unknown> = {}) =>
    new Promise<T>((resolve, reject) => {
      const id = nextId++
      pending.set(id, { resolve: resolve as (value: unknown) => void, reject })
      child.send({ id, cmd, ...payload })
    })
  return {
    url: info.url,
    pid: child.pid as number,
    jwksUri: info.jwksUri,
    callerTokens: info.callerTokens ?? [],
    call,
    async close () {
      if (child.exitCode !== null || child.signalCode !== null) return
      const exited = new Promise((resolve) => child.once('exit', resolve))
      await call('close').catch(() => undefined)
      const timer = setTimeout(() => child.kill('SIGKILL'), 5_000)
      await exited
      clearTimeout(timer)
    }
  }
}
