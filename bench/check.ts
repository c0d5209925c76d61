// The smoke's only assertion: every part asked for ran, every figure is a finite number, and the load got
// 200s. The broker's own non-200 answers are a target (bench/report.ts), not a failure of the run.
import type { BenchResults, PartResults } from './results.js'

/** The --parts names and the key each part's figures are stored under. */
export const PART_KEYS = {
  hot: 'hotPath',
  miss: 'missPath',
  upstream: 'upstream',
  memory: 'memory',
  cold: 'coldStart',
  overload: 'overload',
  tracing: 'tracing',
  capacity: 'capacity'
} as const satisfies Record<string, keyof PartResults>

export type PartName = keyof typeof PART_KEYS

export function check (r: BenchResults, parts: PartName[]): string[] {
  const problems: string[] = []
  const walk = (value: unknown, path: string) => {
    if (typeof value === 'number' && !Number.isFinite(value)) problems.push(`${path} is ${value}`)
    else if (value && typeof value === 'object') {
      for (const [key, child] of Object.entries(value)) walk(child, `${path}.${key}`)
    }
  }
  walk(r, 'results')
  for (const part of parts) {
    if (r[PART_KEYS[part]] === undefined) problems.push(`${PART_KEYS[part]} is missing`)
  }
  for (const hot of r.hotPath ?? []) {
    for (const [key, x] of [['bare', hot.bare], ['bareJwt', hot.bareJwt], ['broker', hot.broker]] as const) {
      if (!(x.goodput > 0)) problems.push(`hotPath ${hot.auth} ${key}: no 2xx answers`)
    }
    for (const [key, x] of [['bare', hot.bare], ['bareJwt', hot.bareJwt]] as const) {
      if (x.non2xx > 0) problems.push(`hotPath ${hot.auth} baseline ${key}: ${x.non2xx} non-2xx answers or errors`)
    }
  }
  for (const x of r.upstream ?? []) {
    // Answers other than 200 (shed, on a busy machine) are shown beside the figures, not a failure.
    if (!(x.armCalls > 0 && x.ideal > 0)) problems.push('upstream: no ARM calls or no ideal')
  }
  for (const x of r.capacity?.runs ?? []) {
    if (!(x.armCalls > 0 && x.ideal > 0)) problems.push(`capacity, ${x.identities} identities: no ARM calls`)
  }
  // A rate that is shed entirely is a result (a target not met), but no 2xx in any closed loop is a broken run.
  if (r.overload && !(r.overload.capacityPerSecond > 0)) problems.push('overload: no 2xx in any closed loop')
  if (r.tracing && !(r.tracing.off.goodput > 0 && r.tracing.on.goodput > 0)) problems.push('tracing: no 2xx answers')
  if (r.tracing && !(r.tracing.exports.requests > 0)) problems.push('tracing: the collector received no export')
  return problems
}
