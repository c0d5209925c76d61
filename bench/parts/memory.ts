// Part 4, memory: the heap a full token cache takes, each size in a fresh child process (bench/memory-fill.ts).
import { execFile } from 'node:child_process'
import { join } from 'node:path'
import { promisify } from 'node:util'
import { log, round } from '../common.js'
import type { MemoryFill } from '../memory-fill.js'
import type { BenchContext } from '../results.js'
import { ROOT } from '../server-ipc.js'

const settings = (smoke: boolean) =>
  smoke
    ? { sizes: [10_000], bound: { inserted: 20_000, maxEntries: 2_000 } }
    : { sizes: [10_000, 100_000, 1_000_000], bound: { inserted: 100_000, maxEntries: 10_000 } }

export interface MemorySize {
  inserted: number
  maxEntries: number
  held: number
  meanTokenBytes: number
  rssMiB: number
  heapUsedMiB: number
  heapDeltaMiB: number
  heapPerTokenBytes: number
  overheadPerTokenBytes: number
}

export interface MemoryResult {
  sizes: MemorySize[]
  /** More tokens than CACHE_MAX_ENTRIES: what the bound saves. */
  bound: MemorySize & { unboundedWouldHold: number }
}

const execFileAsync = promisify(execFile)
const mib = (bytes: number) => round(bytes / 2 ** 20, 1)

async function fill (count: number, maxEntries: number): Promise<MemorySize> {
  const { stdout } = await execFileAsync(
    process.execPath,
    [
      '--expose-gc',
      '--max-old-space-size=4096',
      '--import',
      'tsx',
      join(ROOT, 'bench/memory-fill.ts'),
      String(count),
      String(maxEntries)
    ],
    { cwd: ROOT, maxBuffer: 1 << 20, timeout: 120_000 }
  )
  const m: MemoryFill = JSON.parse(stdout)
  log(`memory ${count} into ${maxEntries}: heap +${mib(m.heapDeltaBytes).toFixed(1)} MiB`)
  return {
    inserted: m.inserted,
    maxEntries: m.maxEntries,
    held: m.held,
    meanTokenBytes: round(m.meanTokenBytes, 0),
    rssMiB: mib(m.rssBytes),
    heapUsedMiB: mib(m.heapUsedBytes),
    heapDeltaMiB: mib(m.heapDeltaBytes),
    heapPerTokenBytes: round(m.heapPerTokenBytes, 0),
    overheadPerTokenBytes: round(m.overheadPerTokenBytes, 0)
  }
}

export async function memory (context: BenchContext): Promise<MemoryResult> {
  const P = settings(context.smoke)
  const sizes: MemorySize[] = []
  for (const size of P.sizes) sizes.push(await fill(size, size))
  const bound = await fill(P.bound.inserted, P.bound.maxEntries)
  return { sizes, bound: { ...bound, unboundedWouldHold: P.bound.inserted } }
}
