import { spawn } from 'node:child_process'
import { once } from 'node:events'

export type ServerProcess = ReturnType<typeof startServerProcess>

/** The broker as a child process (`node <args>`), with its output collected. */
export function startServerProcess (args: string[], env: Record<string, string | undefined>) {
  const child = spawn(process.execPath, args, {
    // The child is not measured: merging tsx-compiled coverage with tap's own would corrupt the report.
    env: { PATH: process.env.PATH, _TAPJS_PROCESSINFO_COVERAGE_: '0', ...env },
    stdio: ['ignore', 'pipe', 'pipe']
  })
  let stdout = ''
  let stderr = ''
  child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()))
  child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()))
  const exited = once(child, 'exit') as Promise<[number | null, NodeJS.Signals | null]>
  return { child, exited, output: () => ({ stdout, stderr }) }
}

/** The URL from the broker's "Server listening at" line; rejects if it exits first. */
export function listeningUrl (server: ServerProcess): Promise<string> {
  return new Promise<string>((resolve, reject) => {
    server.child.stdout.on('data', () => {
      const match = /Server listening at (http:\/\/127\.0\.0\.1:\d+)/.exec(server.output().stdout)
      if (match?.[1]) resolve(match[1])
    })
    server.exited.then(() => reject(new Error(server.output().stderr)), reject)
  })
}
