// Part 1, the hot path: GET /tokens/video/{id} on a cached token, the broker in its default configuration
// (load shedding on), against two baselines that answer the same body: (a) a bare Fastify route, (b) the
// same with @fastify/jwt verifying the same JWT. 32 keep-alive connections, closed loop.
import { join } from 'node:path'
import { auditCounts, type AuditCounts } from '../audit-counts.js'
import { log, median, round, tally, type ServerArgs } from '../common.js'
import { getJson, load, type LoadResult } from '../http.js'
import type { BenchContext } from '../results.js'
import { startServer, type BenchServer } from '../server-ipc.js'

/** 32 connections, closed loop; the tracing part measures its hot path the same way. */
export const hotPathSettings = (smoke: boolean) =>
  smoke
    ? { connections: 32, warmupS: 0.5, durationS: 1, rounds: 1 }
    : { connections: 32, warmupS: 2, durationS: 4, rounds: 3 }

export interface HotTarget {
  /** Answers per second, whatever their status (median of the rounds). */
  rps: number
  /** 2xx answers per second (median of the rounds). */
  goodput: number
  p50Ms: number
  p99Ms: number
  requests: number
  /** Answers other than 2xx, and connection errors, over every round. */
  non2xx: number
  /** Answers by status over every round. */
  statuses: Record<string, number>
  bytesPerResponse: number
  /** Goodput of each round. */
  rounds: number[]
}

export interface HotPathResult {
  auth: string
  connections: number
  bodyBytes: number
  bare: HotTarget
  bareJwt: HotTarget
  broker: HotTarget
  /** Goodput ratios, median of the rounds. */
  brokerOverBare: number
  brokerOverBareJwt: number
  roundRatiosOverBareJwt: number[]
  audit: AuditCounts
}

type TargetName = 'bare' | 'bare-jwt' | 'broker'

function summary (list: LoadResult[]): HotTarget {
  const statuses: Record<string, number> = {}
  for (const [code, count] of list.flatMap((x) => Object.entries(x.statuses))) tally(statuses, code, count)
  return {
    rps: round(median(list.map((x) => x.rps)), 0),
    goodput: round(median(list.map((x) => x.goodput)), 0),
    p50Ms: median(list.map((x) => x.p50)),
    p99Ms: median(list.map((x) => x.p99)),
    requests: list.reduce((s, x) => s + x.requests, 0),
    non2xx: list.reduce((s, x) => s + x.non2xx + x.errors, 0),
    statuses,
    bytesPerResponse: round(median(list.map((x) => x.bytesPerResponse)), 0),
    rounds: list.map((x) => round(x.goodput, 0))
  }
}

export async function hotPath (context: BenchContext, auth: 'hs256' | 'jwks'): Promise<HotPathResult> {
  const P = hotPathSettings(context.smoke)
  const logFile = join(context.work, `hot-${auth}.log`)
  const servers: BenchServer[] = []
  const start = async (args: ServerArgs) => {
    const server = await startServer(args)
    servers.push(server)
    return server
  }
  try {
    const broker = await start({ role: 'broker', auth, logFile })
    const token = broker.callerTokens[0] as string
    const path = '/tokens/video/07ec9e38d4'
    const first = await getJson(broker.url + path, token)
    if (first.status !== 200) throw new Error(`broker answered ${first.status}: ${first.body}`)
    const body: unknown = JSON.parse(first.body)
    const bare = await start({ role: 'bare', auth, body })
    const jwks = broker.jwksUri ? { jwksUri: broker.jwksUri } : {}
    const bareJwt = await start({ role: 'bare-jwt', auth, body, ...jwks })
    const targets: Array<{ name: TargetName; url: string }> = [
      { name: 'bare', url: bare.url + path },
      { name: 'bare-jwt', url: bareJwt.url + path },
      { name: 'broker', url: broker.url + path }
    ]
    for (const target of targets) await load(target.url, token, P.warmupS, P.connections)
    const runs: Record<TargetName, LoadResult[]> = { bare: [], 'bare-jwt': [], broker: [] }
    for (let r = 0; r < P.rounds; r++) {
      // Alternate, and rotate who goes first, so drift on a shared machine hits all three alike.
      for (let i = 0; i < targets.length; i++) {
        const target = targets[(i + r) % targets.length] as (typeof targets)[number]
        const result = await load(target.url, token, P.durationS, P.connections)
        runs[target.name].push(result)
        log(
          `hot ${auth} round ${r + 1} ${target.name}: ${Math.round(result.goodput)} 2xx/s, ` +
            `${result.non2xx + result.errors} other, p50 ${result.p50} ms p99 ${result.p99} ms`
        )
      }
    }
    const ratios = (baseline: TargetName) =>
      runs.broker.map((x, i) => x.goodput / (runs[baseline][i] as LoadResult).goodput)
    return {
      auth: auth === 'jwks' ? 'RS256 (JWKS)' : 'HS256',
      connections: P.connections,
      bodyBytes: Buffer.byteLength(JSON.stringify(body)),
      bare: summary(runs.bare),
      bareJwt: summary(runs['bare-jwt']),
      broker: summary(runs.broker),
      brokerOverBare: round(median(ratios('bare'))),
      brokerOverBareJwt: round(median(ratios('bare-jwt'))),
      roundRatiosOverBareJwt: ratios('bare-jwt').map((x) => round(x)),
      audit: auditCounts(logFile)
    }
  } finally {
    await Promise.all(servers.map((server) => server.close()))
  }
}
