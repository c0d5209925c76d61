// Part 6, overload: the real broker process (the bundle, default configuration) limited to a fifth of a
// core, so that it and not the client is the bottleneck. Its capacity is measured first (closed loops of
// a few sizes; the most goodput), then it is offered 1×, 2× and 4× that capacity in an open loop
// (bench/open-loop.ts).
import { writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { startBrokerProcess, type BrokerProcess } from '../../scripts/broker-process.js'
import { startEmulator } from '../../src/emulator/emulator.js'
import { serverCommands } from '../build.js'
import { AUDIT_HMAC_KEY, benchPolicy, callerName, log, NO_PROXY_ENV, round } from '../common.js'
import { limitCpu, type CpuLimit, type CpuLimitMethod } from '../cpu-limit.js'
import { getJson, load } from '../http.js'
import { openLoop, type OpenLoopResult } from '../open-loop.js'
import type { BenchContext } from '../results.js'

const PATH = '/tokens/video/07ec9e38d4'
const QUOTA = { quotaUs: 20_000, periodUs: 100_000 }
const WARMUP_CONNECTIONS = 32
const settings = (smoke: boolean) =>
  smoke
    ? { warmupS: 0.5, capacityS: 1, concurrency: [32, 256], rateS: 1, restMs: 500, graceMs: 1_000 }
    : { warmupS: 2, capacityS: 4, concurrency: [16, 64, 256], rateS: 5, restMs: 1_500, graceMs: 2_000 }
const MULTIPLES = [1, 2, 4]
type Settings = ReturnType<typeof settings>

export interface OverloadRate extends OpenLoopResult {
  multiple: number
  goodputOverCapacity: number
  /** Share of the scheduled requests answered 503 OVERLOADED. */
  shedShare: number
  /** Answers other than 2xx and 503 OVERLOADED. */
  otherStatuses: Record<string, number>
}

export interface ClosedLoop {
  connections: number
  goodputPerSecond: number
  p50Ms: number
  p99Ms: number
  /** Share of the answers that were not 2xx (goodput counts only 2xx). */
  non2xxShare: number
  statuses: Record<string, number>
}

export interface OverloadResult {
  runner: string
  cpuLimit: { method: CpuLimitMethod; detail: string }
  /** The most goodput of the closed loops: with too few connections the broker idles while it may run. */
  capacityPerSecond: number
  closedLoops: ClosedLoop[]
  rates: OverloadRate[]
  /** The best closed loop once more, after the open loops: how much the machine drifted meanwhile. */
  closedLoopAfter: ClosedLoop | undefined
}

/** Enough connections to hold 0.3 s of arrivals in flight: a request that waits longer has missed the target. */
const connectionsFor = (rate: number) => Math.min(4_000, Math.max(32, Math.ceil(rate * 0.3)))
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms))

function rateResult (multiple: number, capacity: number, x: OpenLoopResult): OverloadRate {
  const otherStatuses = Object.fromEntries(
    Object.entries(x.statuses).filter(([key]) => !/^2\d\d$/.test(key) && key !== '503 OVERLOADED')
  )
  return {
    multiple,
    ...x,
    offeredPerSecond: round(x.offeredPerSecond, 0),
    goodputPerSecond: round(x.goodputPerSecond, 0),
    p50Ms: round(x.p50Ms, 1),
    p99Ms: round(x.p99Ms, 1),
    sendLagP99Ms: round(x.sendLagP99Ms, 1),
    goodputOverCapacity: round(x.goodputPerSecond / capacity),
    shedShare: round((x.statuses['503 OVERLOADED'] ?? 0) / Math.max(1, x.scheduled), 3),
    otherStatuses
  }
}

async function closedLoop (url: string, token: string, connections: number, P: Settings): Promise<ClosedLoop> {
  await sleep(P.restMs)
  const x = await load(url, token, P.capacityS, connections)
  log(`overload closed loop, ${connections} connections: ${Math.round(x.goodput)} 2xx/s`)
  return {
    connections,
    goodputPerSecond: round(x.goodput, 0),
    p50Ms: x.p50,
    p99Ms: x.p99,
    non2xxShare: round((x.non2xx + x.errors) / Math.max(1, x.requests), 3),
    statuses: x.statuses
  }
}

async function measure (broker: BrokerProcess, token: string, smoke: boolean) {
  const P = settings(smoke)
  const loops: ClosedLoop[] = []
  for (const connections of P.concurrency) loops.push(await closedLoop(broker.url + PATH, token, connections, P))
  const best = loops.reduce((a, b) => (b.goodputPerSecond > a.goodputPerSecond ? b : a))
  const capacity = best.goodputPerSecond
  const rates: OverloadRate[] = []
  for (const multiple of capacity > 0 ? MULTIPLES : []) {
    const rate = multiple * capacity
    const result = await openLoop({
      port: broker.port,
      path: PATH,
      token,
      ratePerSecond: rate,
      durationS: P.rateS,
      connections: connectionsFor(rate),
      settleMs: P.restMs,
      graceMs: P.graceMs
    })
    rates.push(rateResult(multiple, capacity, result))
    log(
      `overload ${multiple}×: ${Math.round(result.goodputPerSecond)} 2xx/s, ` +
        `p50 ${result.p50Ms.toFixed(1)} ms p99 ${result.p99Ms.toFixed(1)} ms, ${JSON.stringify(result.statuses)}`
    )
  }
  const after = capacity > 0 ? await closedLoop(broker.url + PATH, token, best.connections, P) : undefined
  return { capacityPerSecond: capacity, closedLoops: loops, rates, closedLoopAfter: after }
}

export async function overload (context: BenchContext): Promise<OverloadResult> {
  const P = settings(context.smoke)
  const [command] = await serverCommands()
  if (!command) throw new Error('no broker entry point to run')
  const policyFile = join(context.work, 'overload-policy.json')
  writeFileSync(policyFile, JSON.stringify(benchPolicy()))
  const emulator = await startEmulator()
  let broker: BrokerProcess | undefined
  let limit: CpuLimit | undefined
  try {
    broker = await startBrokerProcess({
      args: command.args,
      emulator,
      callers: true,
      env: { ...NO_PROXY_ENV, POLICY_FILE: policyFile, AUDIT_HMAC_KEY, SHUTDOWN_DELAY_MS: '0' },
      stdout: 'ignore'
    })
    await broker.ready()
    const token = await emulator.mintCallerToken(callerName(0), { expiresInSeconds: 3600 })
    const first = await getJson(broker.url + PATH, token)
    if (first.status !== 200) throw new Error(`broker answered ${first.status}: ${first.body}`)
    await load(broker.url + PATH, token, P.warmupS, WARMUP_CONNECTIONS) // JIT warm-up, at full speed
    limit = await limitCpu(broker.child.pid as number, { ...QUOTA, method: context.cpuLimit })
    log(`overload: ${limit.detail}`)
    const measured = await measure(broker, token, context.smoke)
    return { runner: command.runner, cpuLimit: { method: limit.method, detail: limit.detail }, ...measured }
  } finally {
    try {
      await limit?.release()
    } finally {
      await broker?.stop()
      await emulator.close()
    }
  }
}
