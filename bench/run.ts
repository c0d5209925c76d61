// npm run bench        : the full benchmark (under 5 minutes on 2 cores); prints a table, writes bench/results.json
// npm run bench:smoke  : a few seconds per part, for CI; asserts only that every figure came out as a number
// Options: --smoke, --out=<file>, --parts=hot,miss,upstream,memory,cold,overload,tracing,capacity (in bench/parts/),
//          --cpu-limit=cgroup|neighbours (how the overload part makes the broker the bottleneck)
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { cpus, freemem, totalmem, tmpdir } from 'node:os'
import { join } from 'node:path'
import { parseArgs } from 'node:util'
import { check, PART_KEYS, type PartName } from './check.js'
import type { CpuLimitMethod } from './cpu-limit.js'
import { round } from './common.js'
import { capacity } from './parts/capacity.js'
import { coldStart } from './parts/cold-start.js'
import { hotPath } from './parts/hot.js'
import { memory } from './parts/memory.js'
import { missPath } from './parts/miss.js'
import { overload } from './parts/overload.js'
import { tracing } from './parts/tracing.js'
import { upstream } from './parts/upstream.js'
import { table, targets } from './report.js'
import type { BenchContext, BenchResults, PartResults } from './results.js'
import { ROOT } from './server-ipc.js'

type Runners = { [P in PartName]: (context: BenchContext) => Promise<PartResults[(typeof PART_KEYS)[P]]> }
const RUNNERS: Runners = {
  hot: async (context) => [await hotPath(context, 'jwks'), await hotPath(context, 'hs256')],
  miss: missPath,
  upstream,
  memory,
  cold: coldStart,
  overload,
  tracing,
  capacity
}

const isPart = (name: string): name is PartName => name in RUNNERS
const isCpuLimit = (name: string): name is CpuLimitMethod => name === 'cgroup' || name === 'neighbours'

function options () {
  const { values } = parseArgs({
    options: {
      smoke: { type: 'boolean', default: false },
      out: { type: 'string' },
      parts: { type: 'string', default: Object.keys(RUNNERS).join(',') },
      'cpu-limit': { type: 'string', default: 'cgroup' }
    }
  })
  const cpuLimit = values['cpu-limit']
  if (!isCpuLimit(cpuLimit)) throw new Error(`--cpu-limit is cgroup or neighbours, not ${cpuLimit}`)
  const names = values.parts.split(',').filter((name) => name !== '')
  const unknown = names.filter((name) => !isPart(name))
  if (unknown.length > 0) {
    throw new Error(`unknown part ${unknown.join(', ')}: the parts are ${Object.keys(RUNNERS).join(', ')}`)
  }
  const out =
    values.out ?? (values.smoke ? join(tmpdir(), 'vi-token-broker-bench-smoke.json') : join(ROOT, 'bench/results.json'))
  return { smoke: values.smoke, out, parts: names.filter(isPart), cpuLimit }
}

/** Runs one part and stores its figures under its key. */
async function runPart<P extends PartName> (part: P, context: BenchContext, results: BenchResults): Promise<void> {
  const figures: PartResults[(typeof PART_KEYS)[P]] = await RUNNERS[part](context)
  Object.assign(results, { [PART_KEYS[part]]: figures })
}

async function main (): Promise<void> {
  const { smoke, out, parts, cpuLimit } = options()
  const started = performance.now()
  const results: BenchResults = {
    mode: smoke ? 'smoke' : 'full',
    date: new Date().toISOString(),
    machine: {
      cpu: cpus()[0]?.model ?? 'unknown',
      nproc: cpus().length,
      node: process.version,
      memoryGiB: round(totalmem() / 2 ** 30, 1),
      freeMemoryGiBAtStart: round(freemem() / 2 ** 30, 1)
    }
  }
  const context: BenchContext = { smoke, cpuLimit, work: mkdtempSync(join(tmpdir(), 'vi-bench-')) }
  try {
    for (const part of parts) await runPart(part, context, results)
  } finally {
    rmSync(context.work, { recursive: true, force: true })
  }
  results.elapsedSeconds = round((performance.now() - started) / 1000, 0)
  results.targets = targets(results)
  writeFileSync(out, JSON.stringify(results, null, 2) + '\n')
  process.stdout.write(table(results) + '\n')
  process.stdout.write(`\nwrote ${out} (${results.elapsedSeconds} s)\n`)
  const problems = check(results, parts)
  if (problems.length > 0) {
    process.stderr.write(`bench: the run did not produce every figure:\n  ${problems.join('\n  ')}\n`)
    process.exitCode = 1
  }
}

await main()
