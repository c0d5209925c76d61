// Part 8, ARM capacity: a fleet of 3 broker replicas and Redis against the emulator's write bucket scaled down
// (20, refilling at 2 per second: ARM's 200 and 10 per second, in the same shape), on a time-scaled day (tokens
// live 24 s, not 3,600 s), with Zipf-distributed video ids whose demand for new mints is about 1.5 times what one
// identity refills. Run for a pool of 1 identity and of 2.
import { readFileSync, writeFileSync } from 'node:fs'
import { Agent, request as httpRequest } from 'node:http'
import { join } from 'node:path'
import { randomBytes } from 'node:crypto'
import { startBrokerProcess, type BrokerProcess } from '../../scripts/broker-process.js'
import { startRedisProcess } from '../../scripts/redis-process.js'
import { zipfSampler } from '../../scripts/zipf.js'
import { startEmulator } from '../../src/emulator/emulator.js'
import { serverCommands } from '../build.js'
import {
  AUDIT_HMAC_KEY,
  benchPolicy,
  CALLER_COUNT,
  callerName,
  log,
  mulberry32,
  NO_PROXY_ENV,
  percentiles,
  round,
  tally
} from '../common.js'
import type { BenchContext } from '../results.js'

const REPLICAS = 3
const BURST = 20
const REFILL_PER_SECOND = 2
// ARM's day, 150 times faster: tokens live 3,600 / 150 = 24 s, and the broker's 300 s minimum remaining
// life and 900 s refresh-ahead become 2 s and 6 s.
const TIME_SCALE = 150
const TOKEN_LIFETIME_S = 3600 / TIME_SCALE
const MIN_REMAINING_S = 300 / TIME_SCALE
const REFRESH_AHEAD_S = 900 / TIME_SCALE
const DISTINCT_IDS = 300
const ZIPF_S = 1.0
/** Requests per second over the fleet: with these ids, about 3 new keys per second, 1.5 × one identity's refill. */
const RATE = 5.5
const POPULAR = 10
const settings = (smoke: boolean) => ({ durationS: smoke ? 3 : 30 })

export interface CapacityRun {
  identities: number
  durationS: number
  requests: number
  statuses: Record<string, number>
  distinctIds: number
  /** Keys per token lifetime, summed over the lifetimes: the ARM calls a perfect cache would make. */
  ideal: number
  /** ideal ÷ duration ÷ one identity's refill rate: the demand for new mints, in identities. */
  demandOverOneIdentity: number
  armCalls: number
  arm429: number
  armOverIdeal: number
  /** Share of the 200s answered from a cache (the replica's or Redis) without waiting for ARM. */
  servedWithoutArmShare: number
  /** The 200s that waited for a mint (their own, one in flight, or another replica's): latency at the client. */
  waitedForArm: { n: number; p50Ms: number; p99Ms: number }
  /**
   * 503s: by code, how many carried Retry-After, and how many of those not shed by load shedding (OVERLOADED,
   * a busy machine) were for an id whose token, already served, still had its minimum life left.
   */
  unavailable: { n: number; codes: Record<string, number>; withRetryAfter: number; forIdsHeldInCache: number }
  /** 200 share by popularity: the top ids against the rest. */
  popular: { ids: string; requests: number; okShare: number }
  tail: { ids: string; requests: number; okShare: number }
}

export interface CapacityResult {
  replicas: number
  bucket: { burst: number; refillPerSecond: number }
  tokenLifetimeS: number
  minRemainingS: number
  refreshAheadS: number
  ratePerSecond: number
  distinctIdPool: number
  runs: CapacityRun[]
}

interface Sent {
  replica: number
  rank: number
  start: number
  end: number
  status: number
  reqId: string
  retryAfter: boolean
  code: string | undefined
  expiresAt: number | undefined
}

function send (agent: Agent, url: string, token: string): Promise<Omit<Sent, 'replica' | 'rank'>> {
  const start = Date.now()
  return new Promise((resolve) => {
    const request = httpRequest(url, { agent, headers: { authorization: `Bearer ${token}` } }, (response) => {
      let body = ''
      response.setEncoding('utf8')
      response.on('data', (chunk: string) => (body += chunk))
      response.on('end', () => {
        const parsed = JSON.parse(body) as { expiresOn?: string; error?: { code: string } }
        resolve({
          start,
          end: Date.now(),
          status: response.statusCode ?? 0,
          reqId: String(response.headers['x-request-id']),
          retryAfter: response.headers['retry-after'] !== undefined,
          code: parsed.error?.code,
          expiresAt: parsed.expiresOn ? Date.parse(parsed.expiresOn) : undefined
        })
      })
    })
    request.on('error', () =>
      resolve({ start, end: Date.now(), status: 0, reqId: '', retryAfter: false, code: 'socket', expiresAt: undefined })
    )
    request.end()
  })
}

/** Each replica's audit records, by request id: how it served the request, and which ARM call minted the token. */
function auditsOf (file: string): Map<string, { cache: string | null; armRequestId: string | null }> {
  const records = new Map<string, { cache: string | null; armRequestId: string | null }>()
  for (const line of readFileSync(file, 'utf8').split('\n')) {
    if (!line.includes('"audit":true')) continue
    const record = JSON.parse(line) as { reqId: string; cache: string | null; armRequestId: string | null }
    records.set(record.reqId, record)
  }
  return records
}

/** The ideal: for each token-lifetime window, the distinct ids touched in it, summed. */
function idealOf (sent: Sent[], start: number): number {
  const windows = new Set<string>()
  for (const x of sent) windows.add(`${Math.floor((x.start - start) / (TOKEN_LIFETIME_S * 1000))}/${x.rank}`)
  return windows.size
}

function byPopularity (ids: string, list: Sent[]) {
  const okShare = list.length === 0 ? 0 : round(list.filter((x) => x.status === 200).length / list.length, 3)
  return { ids, requests: list.length, okShare }
}

/**
 * A 200 waited for ARM unless its replica's cache served it (hit, refresh) or its token had already been
 * served to a request that ended before this one started (then it was in Redis).
 */
function waitedForArm (sent: Sent[], audits: Array<ReturnType<typeof auditsOf>>) {
  const ok = sent.filter((x) => x.status === 200)
  const firstServed = new Map<string, number>()
  const audit = (x: Sent) => audits[x.replica]?.get(x.reqId)
  for (const x of ok) {
    const id = audit(x)?.armRequestId
    if (id) firstServed.set(id, Math.min(firstServed.get(id) ?? Infinity, x.end))
  }
  return ok.filter((x) => {
    const record = audit(x)
    if (record === undefined || record.cache === 'hit' || record.cache === 'refresh') return false
    return !(record.armRequestId && (firstServed.get(record.armRequestId) as number) < x.start)
  })
}

async function runPool (context: BenchContext, identities: number, commandArgs: string[]): Promise<CapacityRun> {
  const { durationS } = settings(context.smoke)
  const emulator = await startEmulator({
    tokenLifetimeSeconds: TOKEN_LIFETIME_S,
    writeLimits: { capacity: BURST, refillPerSecond: REFILL_PER_SECOND }
  })
  const redis = await startRedisProcess()
  const policyFile = join(context.work, 'capacity-policy.json')
  writeFileSync(policyFile, JSON.stringify(benchPolicy()))
  const brokers: BrokerProcess[] = []
  const agents = Array.from({ length: REPLICAS }, () => new Agent({ keepAlive: true, maxSockets: 64 }))
  try {
    const env = {
      ...NO_PROXY_ENV,
      POLICY_FILE: policyFile,
      AUDIT_HMAC_KEY,
      SHUTDOWN_DELAY_MS: '0',
      LOG_LEVEL: 'warn',
      REDIS_URL: redis.url,
      CACHE_ENCRYPTION_KEY: `k1:${randomBytes(32).toString('base64')}`,
      AZURE_CLIENT_IDS: Array.from({ length: identities }, (_, i) => `capacity-${i + 1}`).join(','),
      ARM_WRITE_BURST: String(BURST),
      ARM_WRITES_PER_SECOND: String(REFILL_PER_SECOND),
      TOKEN_MIN_REMAINING_SECONDS: String(MIN_REMAINING_S),
      TOKEN_REFRESH_AHEAD_SECONDS: String(REFRESH_AHEAD_S)
    }
    const auditFiles = Array.from({ length: REPLICAS }, (_, i) => join(context.work, `capacity-${identities}-${i}.log`))
    for (const file of auditFiles) {
      const broker = await startBrokerProcess({
        args: commandArgs,
        emulator,
        callers: true,
        env: { ...env, AUDIT_LOG_FILE: file },
        stdout: 'ignore'
      })
      brokers.push(broker)
    }
    await Promise.all(brokers.map((broker) => broker.ready()))
    const tokens = await Promise.all(
      Array.from({ length: CALLER_COUNT }, (_, i) => emulator.mintCallerToken(callerName(i), { expiresInSeconds: 600 }))
    )
    const sample = zipfSampler(DISTINCT_IDS, ZIPF_S, mulberry32(11))
    const pending: Array<Promise<Sent>> = []
    const start = Date.now()
    const total = Math.round(durationS * RATE)
    for (let i = 0; i < total; i++) {
      const due = start + (i * 1000) / RATE
      const wait = due - Date.now()
      if (wait > 0) await new Promise((resolve) => setTimeout(resolve, wait))
      const replica = i % REPLICAS
      const rank = sample()
      const url = `${(brokers[replica] as BrokerProcess).url}/tokens/video/cap${rank}`
      const caller = tokens[i % CALLER_COUNT] as string
      pending.push(send(agents[replica] as Agent, url, caller).then((x) => ({ ...x, replica, rank })))
    }
    const sent = await Promise.all(pending)
    const counters = emulator.counters().arm
    const audits = auditFiles.map(auditsOf)
    const ok = sent.filter((x) => x.status === 200)
    const waited = waitedForArm(sent, audits)
    const latencies = percentiles(waited.map((x) => x.end - x.start))
    const ideal = idealOf(sent, start)
    const statuses: Record<string, number> = {}
    for (const x of sent) tally(statuses, x.code ? `${x.status} ${x.code}` : String(x.status))
    const unavailable = sent.filter((x) => x.status === 503)
    const codes: Record<string, number> = {}
    for (const x of unavailable) tally(codes, x.code ?? 'none')
    // An id held in cache: some earlier answer served a token for it that still had the minimum life left.
    const heldUntil = new Map<number, number>()
    let forIdsHeldInCache = 0
    for (const x of [...sent].sort((a, b) => a.start - b.start)) {
      const held = (heldUntil.get(x.rank) ?? 0) > x.start + MIN_REMAINING_S * 1000
      if (x.status === 503 && x.code !== 'OVERLOADED' && held) forIdsHeldInCache++
      if (x.status === 200 && x.expiresAt !== undefined) {
        heldUntil.set(x.rank, Math.max(heldUntil.get(x.rank) ?? 0, x.expiresAt))
      }
    }
    const run: CapacityRun = {
      identities,
      durationS,
      requests: sent.length,
      statuses,
      distinctIds: new Set(sent.map((x) => x.rank)).size,
      ideal,
      demandOverOneIdentity: round(ideal / durationS / REFILL_PER_SECOND),
      armCalls: counters.generateRestrictedViewerAccessToken,
      arm429: counters.byStatus['429'] ?? 0,
      armOverIdeal: round(counters.generateRestrictedViewerAccessToken / ideal, 3),
      servedWithoutArmShare: round((ok.length - waited.length) / Math.max(1, ok.length), 3),
      waitedForArm: { n: latencies.n, p50Ms: round(latencies.p50, 0), p99Ms: round(latencies.p99, 0) },
      unavailable: {
        n: unavailable.length,
        codes,
        withRetryAfter: unavailable.filter((x) => x.retryAfter).length,
        forIdsHeldInCache
      },
      popular: byPopularity(`top ${POPULAR}`, sent.filter((x) => x.rank < POPULAR)),
      tail: byPopularity(`the other ${DISTINCT_IDS - POPULAR}`, sent.filter((x) => x.rank >= POPULAR))
    }
    log(
      `capacity, ${identities} identities: ${run.requests} requests, ${run.armCalls} ARM calls ` +
        `(${run.arm429} × 429), ideal ${ideal}, ${unavailable.length} × 503`
    )
    return run
  } finally {
    for (const agent of agents) agent.destroy()
    await Promise.all(brokers.map((broker) => broker.stop()))
    await redis.kill()
    await emulator.close()
  }
}

export async function capacity (context: BenchContext): Promise<CapacityResult> {
  const [command] = await serverCommands()
  const args = (command as { args: string[] }).args
  const runs = [await runPool(context, 1, args), await runPool(context, 2, args)]
  return {
    replicas: REPLICAS,
    bucket: { burst: BURST, refillPerSecond: REFILL_PER_SECOND },
    tokenLifetimeS: TOKEN_LIFETIME_S,
    minRemainingS: MIN_REMAINING_S,
    refreshAheadS: REFRESH_AHEAD_S,
    ratePerSecond: RATE,
    distinctIdPool: DISTINCT_IDS,
    runs
  }
}
