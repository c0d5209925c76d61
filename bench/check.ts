// The smoke's only assertion: every part asked for ran, every figure is a finite number, and the load got 200s.
import type { BenchResults, PartResults } from './results.js'

/** The --parts names and the key each part's figures are stored under. */
export const PART_KEYS = {
  hot: 'hotPath',
  miss: 'missPath',
  upstream: 'upstream',
  memory: 'memory',
  cold: 'coldStart'
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
      if (!(x.rps > 0)) problems.push(`hotPath ${hot.auth} ${key}: no requests`)
      if (x.non2xx > 0) problems.push(`hotPath ${hot.auth} ${key}: ${x.non2xx} non-2xx answers or errors`)
    }
  }
  for (const x of r.upstream ?? []) {
    if (!(x.armCalls > 0 && x.ideal > 0)) problems.push('upstream: no ARM calls or no ideal')
    if (x.non2xx > 0) problems.push(`upstream: ${x.non2xx} non-2xx answers or errors`)
  }
  return problems
}
