// Part 2, the miss path: sequential misses through the broker, with ARM delayed by a fixed latency,
// alternated with the same ARM calls made directly from this process.
import { randomUUID } from 'node:crypto'
import { Agent as HttpsAgent, request as httpsRequest } from 'node:https'
import { join } from 'node:path'
import { auditCounts } from '../audit-counts.js'
import { log, percentiles, round, type ArmTarget, type Percentiles } from '../common.js'
import { getJson } from '../http.js'
import type { BenchContext } from '../results.js'
import { startServer, type BenchServer } from '../server-ipc.js'

const ARM_LATENCY_MS = 50
const settings = (smoke: boolean) => (smoke ? { batches: 2, batch: 5 } : { batches: 10, batch: 20 })

interface Latency {
  p50Ms: number
  p99Ms: number
  meanMs: number
  n: number
}

export interface MissPathResult {
  armLatencyMs: number
  brokerMiss: Latency
  directArm: Latency
  overheadOverFixedLatency: Latency
  overheadOverDirectArm: { p50Ms: number; p99Ms: number }
  auditMisses: number
}

/**
 * The upstream alone: generateRestrictedViewerAccessToken called from this process (the same client,
 * over the same loopback, as the broker requests), with a plain keep-alive HTTPS client and a
 * managed-identity token fetched once. Its latency is what a miss costs without the broker.
 */
async function directArmClient (target: ArmTarget) {
  const agent = new HttpsAgent({ keepAlive: true, maxSockets: 1, ca: target.caCertPem })
  const identity = await fetch(
    `${target.identityEndpoint}?api-version=2019-08-01&resource=https://management.azure.com`,
    { headers: { 'x-identity-header': target.identityHeader } }
  )
  const bearer = ((await identity.json()) as { access_token: string }).access_token
  const post = (body: string) =>
    new Promise<number>((resolve, reject) => {
      const headers = {
        authorization: `Bearer ${bearer}`,
        'content-type': 'application/json',
        'content-length': Buffer.byteLength(body)
      }
      const request = httpsRequest(target.url, { method: 'POST', agent, headers }, (response) => {
        response.resume()
        response.on('end', () => resolve(response.statusCode ?? 0))
      })
      request.on('error', reject)
      request.end(body)
    })
  return {
    async call (id: string): Promise<number> {
      const started = performance.now()
      const status = await post(JSON.stringify({ scope: 'Video', videoId: id }))
      if (status !== 200) throw new Error(`direct ARM call answered ${status}`)
      return performance.now() - started
    },
    close: () => agent.destroy()
  }
}

const freshId = () => randomUUID().replaceAll('-', '').slice(0, 20)

function brokerMiss (broker: BenchServer, token: string) {
  return async (id: string) => {
    const started = performance.now()
    const response = await getJson(`${broker.url}/tokens/video/${id}`, token)
    const elapsed = performance.now() - started
    if (response.status !== 200) throw new Error(`broker answered ${response.status}: ${response.body}`)
    return elapsed
  }
}

const latency = (p: Percentiles): Latency => ({
  p50Ms: round(p.p50),
  p99Ms: round(p.p99),
  meanMs: round(p.mean),
  n: p.n
})

export async function missPath (context: BenchContext): Promise<MissPathResult> {
  const P = settings(context.smoke)
  const logFile = join(context.work, 'miss.log')
  const broker = await startServer({ role: 'broker', auth: 'jwks', logFile })
  const miss = brokerMiss(broker, broker.callerTokens[0] as string)
  let direct: Awaited<ReturnType<typeof directArmClient>> | undefined
  try {
    await broker.call('fault', { fault: { latencyMs: ARM_LATENCY_MS } })
    // Warm-up (the first miss fetches the managed-identity token and opens the TLS connection).
    for (let i = 0; i < 5; i++) await miss(freshId())
    const client = (direct = await directArmClient(await broker.call<ArmTarget>('arm-target')))
    for (let i = 0; i < 3; i++) await client.call(freshId())
    const brokerSamples: number[] = []
    const directSamples: number[] = []
    for (let b = 0; b < P.batches; b++) {
      // Refill ARM's write bucket (reset also clears the fault), so the broker's ARM gate never paces.
      await broker.call('reset')
      await broker.call('fault', { fault: { latencyMs: ARM_LATENCY_MS } })
      const runDirect = async () => {
        for (let i = 0; i < P.batch; i++) directSamples.push(await client.call(freshId()))
      }
      const runBroker = async () => {
        for (let i = 0; i < P.batch; i++) brokerSamples.push(await miss(freshId()))
      }
      if (b % 2 === 0) await runBroker().then(runDirect)
      else await runDirect().then(runBroker)
    }
    const brokerLatency = percentiles(brokerSamples)
    const directLatency = percentiles(directSamples)
    log(`miss: broker p50 ${brokerLatency.p50.toFixed(2)} ms, direct ARM p50 ${directLatency.p50.toFixed(2)} ms`)
    return {
      armLatencyMs: ARM_LATENCY_MS,
      brokerMiss: latency(brokerLatency),
      directArm: latency(directLatency),
      overheadOverFixedLatency: latency(percentiles(brokerSamples.map((x) => x - ARM_LATENCY_MS))),
      overheadOverDirectArm: {
        p50Ms: round(brokerLatency.p50 - directLatency.p50),
        p99Ms: round(brokerLatency.p99 - directLatency.p99)
      },
      auditMisses: auditCounts(logFile).miss
    }
  } finally {
    direct?.close()
    await broker.close()
  }
}
