// The broker's built entry points (npm run build), rebuilt when older than src/, for the parts that time
// or load the real process.
import { execFile } from 'node:child_process'
import { existsSync, readdirSync, statSync } from 'node:fs'
import { join } from 'node:path'
import { promisify } from 'node:util'
import { log } from './common.js'
import { ROOT } from './server-ipc.js'

const execFileAsync = promisify(execFile)

export interface ServerCommand {
  /** What `node` runs. */
  args: string[]
  /** How the report names it. */
  runner: string
}

function newestMtime (dir: string): number {
  let newest = 0
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name)
    newest = Math.max(newest, entry.isDirectory() ? newestMtime(path) : statSync(path).mtimeMs)
  }
  return newest
}

/**
 * `node dist/server.bundle.js` (what `npm start` and the image run) first, then the unbundled tsc output
 * `node dist/server.js`; both are built first when older than src/. If the build fails, the one
 * command is `node --import tsx src/server.ts`, and its runner says so.
 */
export async function serverCommands (): Promise<ServerCommand[]> {
  const entries = ['dist/server.bundle.js', 'dist/server.js'].map((entry) => join(ROOT, entry))
  const newestSource = newestMtime(join(ROOT, 'src'))
  const fresh = () => entries.every((entry) => existsSync(entry) && statSync(entry).mtimeMs >= newestSource)
  if (!fresh()) {
    log('dist/ is older than src/: npm run build')
    try {
      await execFileAsync('npm', ['run', 'build'], { cwd: ROOT, timeout: 120_000 })
    } catch (error) {
      log(`build failed, running src/server.ts through tsx instead: ${(error as Error).message.split('\n')[0]}`)
    }
  }
  if (!fresh()) {
    return [{ args: ['--import', 'tsx', join(ROOT, 'src/server.ts')], runner: 'node --import tsx src/server.ts' }]
  }
  return entries.map((entry) => ({ args: [entry], runner: `node ${entry.slice(ROOT.length)}` }))
}
