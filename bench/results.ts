// What a bench run produces (bench/results.json) and what each part is given.
import type { CapacityResult } from './parts/capacity.js'
import type { ColdStartResult } from './parts/cold-start.js'
import type { HotPathResult } from './parts/hot.js'
import type { MemoryResult } from './parts/memory.js'
import type { MissPathResult } from './parts/miss.js'
import type { OverloadResult } from './parts/overload.js'
import type { CpuLimitMethod } from './cpu-limit.js'
import type { TracingResult } from './parts/tracing.js'
import type { UpstreamResult } from './parts/upstream.js'

export interface BenchContext {
  /** A few seconds per part, for CI. */
  smoke: boolean
  /** A scratch directory for log files, removed after the run. */
  work: string
  /** How the overload part limits the broker's CPU (`neighbours` tries no cgroup). */
  cpuLimit: CpuLimitMethod
}

/** Each part's figures, under its key in bench/results.json; a part that did not run is absent. */
export interface PartResults {
  hotPath: HotPathResult[]
  missPath: MissPathResult
  upstream: UpstreamResult[]
  memory: MemoryResult
  coldStart: ColdStartResult[]
  overload: OverloadResult
  tracing: TracingResult
  capacity: CapacityResult
}

export interface Target {
  target: string
  measured: string
  met: boolean
}

export interface BenchResults extends Partial<PartResults> {
  mode: 'smoke' | 'full'
  date: string
  machine: { cpu: string; nproc: number; node: string; memoryGiB: number; freeMemoryGiBAtStart: number }
  elapsedSeconds?: number
  targets?: Target[]
}
