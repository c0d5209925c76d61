// Part 3, upstream efficiency: one simulated day of Zipf-distributed requests on a fast clock, and the
// ARM calls it cost against the ideal.
import { join } from 'node:path'
import autocannon from 'autocannon'
import { zipfSampler } from '../../scripts/zipf.js'
import { auditCounts } from '../audit-counts.js'
import { fakeTimeAt, log, mulberry32, round } from '../common.js'
import type { BenchContext } from '../results.js'
import { startServer } from '../server-ipc.js'

const DAY_S = 86_400
const TOKEN_LIFETIME_S = 3600
const MIN_REMAINING_S = 300
const DISTINCT_IDS = 10_000
const ZIPF_S = 1.0
const settings = (smoke: boolean) =>
  smoke ? { dayRealS: 4, simRate: 0.05, variants: [900] } : { dayRealS: 30, simRate: 0.25, variants: [900, 0] }

export interface UpstreamResult {
  refreshAheadSeconds: number
  simulatedSeconds: number
  speedup: number
  simRatePerSecond: number
  realRatePerSecond: number
  requests: number
  non2xx: number
  distinctIdsTouched: number
  armCalls: number
  arm429: number
  ideal: number
  armOverIdeal: number
  noCacheOverIdeal: number
  onDemandOptimum: number
  armOverOptimum: number
  outcomes: { hit: number; miss: number; refresh: number; coalesced: number }
  errorCodes: Record<string, number>
}

interface Counters {
  arm: { generateRestrictedViewerAccessToken: number; byStatus: Record<string, number> }
}

const videoIdOf = (rank: number) => (Math.imul(rank + 1, 2654435761) >>> 0).toString(16).padStart(8, '0') + 'v' + rank

/** The ideal: keys touched in each token-lifetime window; and the exact on-demand optimum for comparison. */
function ideals (touches: Array<[number, number]>, start: number) {
  const windows = new Set<number>()
  const coveredUntil = new Map<number, number>()
  let optimum = 0
  for (const [t, key] of [...touches].sort((a, b) => a[0] - b[0])) {
    windows.add(Math.floor((t - start) / (TOKEN_LIFETIME_S * 1000)) * DISTINCT_IDS + key)
    // A token minted at t serves until t + lifetime - min remaining; minting at the first uncovered touch is optimal.
    if (t >= (coveredUntil.get(key) ?? -Infinity)) {
      optimum++
      coveredUntil.set(key, t + (TOKEN_LIFETIME_S - MIN_REMAINING_S) * 1000)
    }
  }
  return { ideal: windows.size, optimum }
}

async function oneDay (context: BenchContext, refreshAheadSeconds: number): Promise<UpstreamResult> {
  const P = settings(context.smoke)
  const logFile = join(context.work, `upstream-${refreshAheadSeconds}.log`)
  const broker = await startServer({
    role: 'broker',
    auth: 'jwks',
    logFile,
    fakeClock: true,
    refreshAheadSeconds,
    // The broker's own identity token must outlive the simulated day (its refresh runs on real time).
    identityTokenLifetimeSeconds: 40 * DAY_S
  })
  let tokens = broker.callerTokens
  const speedup = DAY_S / P.dayRealS
  const realRate = P.simRate * speedup
  const sample = zipfSampler(DISTINCT_IDS, ZIPF_S, mulberry32(7))
  const touches: Array<[number, number]> = []
  let nextCaller = 0
  try {
    const clock = await broker.call<{ realStart: number; fakeStart: number; speedup: number }>('start-clock', {
      speedup
    })
    // The callers' JWTs live 12 hours of simulated time: the bench gets new ones every 3 hours, as BFFs renew theirs.
    const renewal = setInterval(() => {
      broker.call<string[]>('caller-tokens').then((fresh) => (tokens = fresh), () => undefined)
    }, (3 * 3_600 * 1_000) / speedup)
    let result: autocannon.Result
    try {
      result = await autocannon({
        url: broker.url,
        connections: tokens.length, // one connection per caller
        overallRate: Math.round(realRate),
        duration: P.dayRealS,
        requests: [
          {
            setupRequest: (request, context) => {
              const ctx = context as { caller?: number }
              ctx.caller ??= nextCaller++ % tokens.length
              const rank = sample()
              touches.push([fakeTimeAt(performance.timeOrigin + performance.now(), clock), rank])
              return {
                ...request,
                path: `/tokens/video/${videoIdOf(rank)}`,
                headers: { authorization: `Bearer ${tokens[ctx.caller]}` }
              }
            }
          }
        ]
      })
    } finally {
      clearInterval(renewal)
    }
    const counters = await broker.call<Counters>('counters')
    const armCalls = counters.arm.generateRestrictedViewerAccessToken
    const { ideal, optimum } = ideals(touches, clock.fakeStart)
    const requests = result.requests.total
    const audit = auditCounts(logFile)
    log(`upstream refresh-ahead ${refreshAheadSeconds}s: ${requests} requests, ${armCalls} ARM calls, ideal ${ideal}`)
    return {
      refreshAheadSeconds,
      simulatedSeconds: DAY_S,
      speedup: round(speedup, 0),
      simRatePerSecond: P.simRate,
      realRatePerSecond: Math.round(realRate),
      requests,
      non2xx: result.non2xx + result.errors,
      distinctIdsTouched: new Set(touches.map((x) => x[1])).size,
      armCalls,
      arm429: counters.arm.byStatus['429'] ?? 0,
      ideal,
      armOverIdeal: round(armCalls / ideal, 3),
      noCacheOverIdeal: round(requests / ideal, 2),
      onDemandOptimum: optimum,
      armOverOptimum: round(armCalls / optimum, 3),
      outcomes: { hit: audit.hit, miss: audit.miss, refresh: audit.refresh, coalesced: audit.coalesced },
      errorCodes: audit.codes
    }
  } finally {
    await broker.close()
  }
}

/** One day per refresh-ahead setting: the default first. */
export async function upstream (context: BenchContext): Promise<UpstreamResult[]> {
  const days: UpstreamResult[] = []
  for (const refreshAhead of settings(context.smoke).variants) days.push(await oneDay(context, refreshAhead))
  return days
}
