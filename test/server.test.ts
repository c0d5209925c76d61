// The real entry point in a child process: boot-time validation and graceful shutdown on SIGTERM.
import { spawn } from 'node:child_process'
import { once } from 'node:events'
import t from 'tap'
import { TEST_ENV } from './helper.js'

function startServer(env: Record<string, string | undefined>) {
  const child = spawn(process.execPath, ['--import', 'tsx', 'src/server.ts'], {
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

t.test('a missing or invalid variable stops the broker, naming the variable', async (t) => {
  const missing = startServer({ ...TEST_ENV, AVI_ACCOUNT_NAME: undefined })
  t.same((await missing.exited)[0], 1)
  t.match(missing.output().stderr, /AVI_ACCOUNT_NAME: required but not set/)

  const invalid = startServer({ ...TEST_ENV, PORT: 'eighty' })
  t.same((await invalid.exited)[0], 1)
  t.match(invalid.output().stderr, /PORT: must be integer/)
})

t.test('an invalid policy file stops the broker, naming the file and the entry', async (t) => {
  const dir = t.testdir({ 'policy.json': JSON.stringify({ callers: { bff: { allow: [{ scope: 'galaxy' }] } } }) })
  const server = startServer({ ...TEST_ENV, POLICY_FILE: `${dir}/policy.json` })
  t.same((await server.exited)[0], 1)
  t.match(server.output().stderr, /policy\.json.*\n.*\/callers\/bff\/allow\/0\/scope/)
})

t.test('it starts, reports ready, and exits 0 on SIGTERM', async (t) => {
  const dir = t.testdir({ 'policy.json': JSON.stringify({ callers: {} }) })
  const server = startServer({ ...TEST_ENV, POLICY_FILE: `${dir}/policy.json`, PORT: '0', HOST: '127.0.0.1' })
  const url = await new Promise<string>((resolve, reject) => {
    server.child.stdout.on('data', () => {
      const match = /Server listening at (http:\/\/127\.0\.0\.1:\d+)/.exec(server.output().stdout)
      if (match?.[1]) resolve(match[1])
    })
    server.exited.then(() => reject(new Error(server.output().stderr)), reject)
  })
  t.equal((await fetch(`${url}/readyz`)).status, 200)
  server.child.kill('SIGTERM')
  t.same(await server.exited, [0, null])
  t.match(server.output().stdout, /"msg":"shutting down"/)
})
