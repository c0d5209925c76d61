// One broker as a child process: a free loopback port, its environment, the wait for /readyz, and its stop.
// Used by `npm run dev`, the soak, the bench and the tests that run a real process; the broker never imports it.
import { spawn, type ChildProcess } from 'node:child_process'
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { get } from 'node:http'
import { createServer } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { setTimeout as sleep } from 'node:timers/promises'
import { fileURLToPath } from 'node:url'
import { brokerEnvironment } from '../src/emulator/broker-environment.js'
import type { Emulator } from '../src/emulator/emulator.js'

/** `node` arguments that run the broker from its sources. */
export const SOURCE_ENTRY = ['--import', 'tsx', fileURLToPath(new URL('../src/server.ts', import.meta.url))]

type Output = 'pipe' | 'inherit' | 'ignore'

export interface BrokerProcessOptions {
  /** What `node` runs; default SOURCE_ENTRY. */
  args?: string[]
  /** The broker's variables, over HOST=127.0.0.1 and PORT (and this process's environment with `inheritEnv`). */
  env?: Record<string, string | undefined>
  /** Pass this process's environment on, but for its HOST and PORT; otherwise only PATH. */
  inheritEnv?: boolean
  /**
   * Point the broker at this emulator (its ARM, trusted through a CA file, its identity endpoint, its
   * account); these variables win over `env`.
   */
  emulator?: Emulator
  /** With `emulator`: caller tokens come from the emulator's issuer too (RS256 via its JWKS). */
  callers?: boolean
  /** Default: a free loopback port. */
  port?: number
  /** Default 'pipe': collected, read with output(). */
  stdout?: Output
  stderr?: Output
}

export interface BrokerProcess {
  child: ChildProcess
  port: number
  url: string
  exited: Promise<[number | null, NodeJS.Signals | null]>
  output(): { stdout: string; stderr: string }
  /** Resolves at the first 200 from /readyz; rejects if the broker exits first or the time runs out. */
  ready(options?: { timeoutMs?: number; intervalMs?: number }): Promise<void>
  /** Sends `signal` unless the broker has exited, and SIGKILL after `killAfterMs`; resolves on exit. */
  stop(signal?: NodeJS.Signals, options?: { killAfterMs?: number }): Promise<[number | null, NodeJS.Signals | null]>
}

/** A loopback port that was free a moment ago. */
export async function freePort (): Promise<number> {
  const server = createServer().listen(0, '127.0.0.1')
  await new Promise((resolve) => server.once('listening', resolve))
  const { port } = server.address() as { port: number }
  await new Promise((resolve) => server.close(resolve))
  return port
}

/** Whether GET /readyz answers 200 (false while nothing listens). */
function isReady (port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const request = get({ host: '127.0.0.1', port, path: '/readyz', agent: false }, (response) => {
      response.resume()
      resolve(response.statusCode === 200)
    })
    request.on('error', () => resolve(false))
  })
}

/** Writes the emulator's CA where NODE_EXTRA_CA_CERTS can name it; removed when the broker exits. */
function emulatorEnvironment (emulator: Emulator, callers: boolean) {
  const dir = mkdtempSync(join(tmpdir(), 'vi-token-broker-process-'))
  const caFile = join(dir, 'emulator-ca.pem')
  writeFileSync(caFile, emulator.caCertPem)
  return { env: brokerEnvironment(emulator, { caFile, callers }), remove: () => rmSync(dir, { recursive: true }) }
}

function baseEnvironment (inherit: boolean): Record<string, string | undefined> {
  if (!inherit) return { PATH: process.env.PATH }
  const env = { ...process.env }
  delete env.HOST
  delete env.PORT
  return env
}

export async function startBrokerProcess (options: BrokerProcessOptions = {}): Promise<BrokerProcess> {
  const port = options.port ?? (await freePort())
  const url = `http://127.0.0.1:${port}`
  const wiring = options.emulator ? emulatorEnvironment(options.emulator, options.callers ?? false) : undefined
  const child = spawn(process.execPath, options.args ?? SOURCE_ENTRY, {
    env: {
      ...baseEnvironment(options.inheritEnv ?? false),
      // Under tap the child is not measured: merging tsx-compiled coverage with tap's own would corrupt the report.
      _TAPJS_PROCESSINFO_COVERAGE_: '0',
      HOST: '127.0.0.1',
      PORT: String(port),
      ...options.env,
      ...wiring?.env
    },
    stdio: ['ignore', options.stdout ?? 'pipe', options.stderr ?? 'pipe']
  })
  const collected = { stdout: '', stderr: '' }
  child.stdout?.on('data', (chunk: Buffer) => (collected.stdout += chunk.toString()))
  child.stderr?.on('data', (chunk: Buffer) => (collected.stderr += chunk.toString()))
  // If this process exits first (a test runner's timeout, an uncaught error), the broker goes with it.
  /* c8 ignore next: runs while this process exits; the test sees its effect from outside */
  const killOnExit = () => child.kill('SIGKILL')
  process.once('exit', killOnExit)
  const exited = new Promise<[number | null, NodeJS.Signals | null]>((resolve) =>
    child.once('exit', (code, signal) => {
      process.off('exit', killOnExit)
      wiring?.remove()
      resolve([code, signal])
    })
  )
  const running = () => child.exitCode === null && child.signalCode === null

  async function ready ({ timeoutMs = 30_000, intervalMs = 50 } = {}): Promise<void> {
    const deadline = performance.now() + timeoutMs
    for (;;) {
      if (!running()) {
        const [code, signal] = await exited
        const how = `code ${code}, signal ${signal}`
        throw new Error(`the broker exited (${how}) before ${url}/readyz answered: ${collected.stderr}`)
      }
      if (await isReady(port)) return
      if (performance.now() > deadline) throw new Error(`no 200 from ${url}/readyz within ${timeoutMs} ms`)
      await sleep(intervalMs)
    }
  }

  async function stop (signal: NodeJS.Signals = 'SIGTERM', { killAfterMs = 10_000 } = {}) {
    if (running()) child.kill(signal)
    const timer = setTimeout(() => child.kill('SIGKILL'), killAfterMs)
    try {
      return await exited
    } finally {
      clearTimeout(timer)
    }
  }

  return { child, port, url, exited, output: () => ({ ...collected }), ready, stop }
}
