// Part 7, tracing's cost: the hot path (a cached token, 32 keep-alive connections) of the broker with tracing
// off, as it ships, and on, configured by OTEL_EXPORTER_OTLP_ENDPOINT alone (so every request is sampled and its
// span exported over OTLP/HTTP to a collector on loopback). Rounds alternate, so drift hits both alike.
import { log, median, round } from '../common.js'
import { getJson, load, type LoadResult } from '../http.js'
import type { BenchContext } from '../results.js'
import { hotPathSettings } from './hot.js'
import { startServer, type BenchServer } from '../server-ipc.js'

export interface TracingTarget {
  /** 2xx answers per second, median of the rounds. */
  goodput: number
  p50Ms: number
  p99Ms: number
  non2xx: number
  rounds: number[]
}

export interface TracingResult {
  connections: number
  off: TracingTarget
  on: TracingTarget
  /** Goodput with tracing on ÷ off, median of the rounds' ratios. */
  onOverOff: number
  /** What the collector received while tracing was on. */
  exports: { requests: number; bytes: number }
}

const PATH = '/tokens/video/07ec9e38d4'

function summary (list: LoadResult[]): TracingTarget {
  return {
    goodput: round(median(list.map((x) => x.goodput)), 0),
    p50Ms: median(list.map((x) => x.p50)),
    p99Ms: median(list.map((x) => x.p99)),
    non2xx: list.reduce((sum, x) => sum + x.non2xx + x.errors, 0),
    rounds: list.map((x) => round(x.goodput, 0))
  }
}

export async function tracing (context: BenchContext): Promise<TracingResult> {
  const P = hotPathSettings(context.smoke)
  const servers: BenchServer[] = []
  try {
    for (const traced of [false, true]) {
      servers.push(await startServer({ role: 'broker', auth: 'jwks', tracing: traced }))
    }
    const [off, on] = servers as [BenchServer, BenchServer]
    const targets = [
      { name: 'off' as const, server: off },
      { name: 'on' as const, server: on }
    ]
    for (const { server } of targets) {
      const first = await getJson(server.url + PATH, server.callerTokens[0])
      if (first.status !== 200) throw new Error(`broker answered ${first.status}: ${first.body}`)
      await load(server.url + PATH, server.callerTokens[0] as string, P.warmupS, P.connections)
    }
    const runs: Record<'off' | 'on', LoadResult[]> = { off: [], on: [] }
    for (let r = 0; r < P.rounds; r++) {
      for (let i = 0; i < targets.length; i++) {
        const { name, server } = targets[(i + r) % targets.length] as (typeof targets)[number]
        const result = await load(server.url + PATH, server.callerTokens[0] as string, P.durationS, P.connections)
        runs[name].push(result)
        log(`tracing ${name} round ${r + 1}: ${Math.round(result.goodput)} 2xx/s, p99 ${result.p99} ms`)
      }
    }
    return {
      connections: P.connections,
      off: summary(runs.off),
      on: summary(runs.on),
      onOverOff: round(median(runs.on.map((x, i) => x.goodput / (runs.off[i] as LoadResult).goodput))),
      exports: await on.call('exports')
    }
  } finally {
    await Promise.all(servers.map((server) => server.close()))
  }
}
