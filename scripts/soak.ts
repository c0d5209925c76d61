// `npm run soak`: drives the real broker through the emulator for a bounded time while the emulator
// injects errors, throttling and latency spikes, then reports what callers saw.
//   SOAK_SECONDS (default 60), SOAK_CONCURRENCY (default 16)
import { randomBytes } from 'node:crypto'
import { readFileSync } from 'node:fs'
import { mkdtemp, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { decodeJwt } from 'jose'
import { startEmulator, type Emulator, type Fault } from '../src/emulator/emulator.js'
import { startBrokerProcess, type BrokerProcess } from './broker-process.js'
import { zipfSampler } from './zipf.js'

const SECONDS = Number(process.env.SOAK_SECONDS ?? 60)
const CONCURRENCY = Number(process.env.SOAK_CONCURRENCY ?? 16)
const MIN_REMAINING_SECONDS = 300
// Tokens live 6 minutes, so each is served for about a minute and many expire during the run.
const TOKEN_LIFETIME_SECONDS = 360
const DISTINCT_IDS = 2_000
const CALLERS = ['portal-bff', 'admin-bff', 'reports-bff']
// One fault at a time, rotated every 2 s: 20% errors, throttling, latency spikes.
const FAULTS: Array<Fault | null> = [
  { status: 503, rate: 0.2 },
  { status: 429, retryAfterSeconds: 1, rate: 0.05 },
  { latencyMs: 400, rate: 0.2 },
  { reset: true, rate: 0.1 },
  null
]
const POLICY = {
  rateLimit: { max: 1_000_000, timeWindow: '1 minute' },
  callers: {
    'portal-bff': { allow: [{ scope: 'video' }] },
    'admin-bff': { allow: [{ scope: 'account' }, { scope: 'video' }] },
    'reports-bff': { allow: [{ scope: 'project', ids: ['07ec9e38d4'] }, { scope: 'video' }] }
  }
}

interface Observed {
  statuses: Map<string, number>
  latencies: number[]
  underLifetime: number
}

/** CONCURRENCY closed-loop clients until the time is up, with the emulator's fault rotating every 2 s. */
async function drive (emulator: Emulator, baseUrl: string): Promise<Observed> {
  const tokens = Object.fromEntries(
    await Promise.all(CALLERS.map(async (c) => [c, await emulator.mintCallerToken(c)] as const))
  )
  const zipf = zipfSampler(DISTINCT_IDS, 1.1)
  const observed: Observed = { statuses: new Map(), latencies: [], underLifetime: 0 }
  let faultIndex = 0
  const rotation = setInterval(() => emulator.setFault('arm', FAULTS[faultIndex++ % FAULTS.length] ?? null), 2_000)
  const progress = setInterval(() => process.stderr.write(`soak: ${observed.latencies.length} requests…\n`), 10_000)
  const endAt = Date.now() + SECONDS * 1000
  try {
    await Promise.all(
      Array.from({ length: CONCURRENCY }, async (_, worker) => {
        while (Date.now() < endAt) {
          const caller = CALLERS[worker % CALLERS.length] as string
          const path =
            caller === 'admin-bff' && Math.random() < 0.05 ? '/tokens/account' : `/tokens/video/v${zipf() + 1}`
          const started = performance.now()
          const status = await request(baseUrl + path, tokens[caller] as string, observed)
          observed.latencies.push(performance.now() - started)
          observed.statuses.set(status, (observed.statuses.get(status) ?? 0) + 1)
        }
      })
    )
  } finally {
    clearInterval(rotation)
    clearInterval(progress)
  }
  return observed
}

/** One request; the status, or `network:<error>`. Counts a token served with too little lifetime left. */
async function request (url: string, token: string, observed: Observed): Promise<string> {
  try {
    const response = await fetch(url, {
      headers: { authorization: `Bearer ${token}` },
      signal: AbortSignal.timeout(15_000)
    })
    const body = (await response.json()) as { accessToken?: string }
    if (body.accessToken) {
      const exp = decodeJwt(body.accessToken).exp as number
      if (exp - Date.now() / 1000 < MIN_REMAINING_SECONDS) observed.underLifetime++
    }
    return String(response.status)
  } catch (error) {
    return `network:${(error as Error).name}`
  }
}

function report (observed: Observed, counters: ReturnType<Emulator['counters']>, rss: [number, number]): string {
  const latencies = [...observed.latencies].sort((a, b) => a - b)
  const pct = (p: number) =>
    (latencies[Math.min(latencies.length - 1, Math.floor((p / 100) * latencies.length))] ?? 0).toFixed(1)
  const mb = (bytes: number) => `${(bytes / 1024 / 1024).toFixed(1)} MB`
  const rows: Array<[string, string]> = [
    [
      'duration',
      `${SECONDS} s, ${CONCURRENCY} concurrent clients, ${CALLERS.length} callers, ` +
        `Zipf(1.1) over ${DISTINCT_IDS} video ids`
    ],
    ['requests', String(latencies.length)],
    ...[...observed.statuses.entries()]
      .sort()
      .map(([status, count]) => [`  status ${status}`, String(count)] as [string, string]),
    ['ARM calls (generateRestrictedViewerAccessToken)', String(counters.arm.generateRestrictedViewerAccessToken)],
    ['ARM answers by status', JSON.stringify(counters.arm.byStatus)],
    ['latency p50 / p99 / max', `${pct(50)} / ${pct(99)} / ${latencies.at(-1)?.toFixed(1) ?? 0} ms`],
    [`tokens served with < ${MIN_REMAINING_SECONDS} s left`, String(observed.underLifetime)],
    ['broker RSS start / end', `${mb(rss[0])} / ${mb(rss[1])}`]
  ]
  const width = Math.max(...rows.map(([k]) => k.length))
  return `\nvi-token-broker soak\n${rows.map(([k, v]) => `${k.padEnd(width)}  ${v}`).join('\n')}\n`
}

const rssOf = (pid: number | undefined) =>
  Number(/VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1] ?? 0) * 1024

/** Whatever fails, the broker, the emulator and the policy file are gone when this returns. */
async function main (): Promise<number> {
  const emulator = await startEmulator({ tokenLifetimeSeconds: TOKEN_LIFETIME_SECONDS })
  const dir = await mkdtemp(join(tmpdir(), 'vi-token-broker-soak-'))
  let broker: BrokerProcess | undefined
  try {
    await writeFile(join(dir, 'policy.json'), JSON.stringify(POLICY))
    broker = await startBrokerProcess({
      emulator,
      callers: true,
      inheritEnv: true,
      env: {
        POLICY_FILE: join(dir, 'policy.json'),
        AUDIT_HMAC_KEY: randomBytes(32).toString('hex'),
        TOKEN_MIN_REMAINING_SECONDS: String(MIN_REMAINING_SECONDS),
        TOKEN_REFRESH_AHEAD_SECONDS: '20',
        ARM_TIMEOUT_MS: '3000',
        SHUTDOWN_DELAY_MS: '0'
      },
      stdout: 'ignore',
      stderr: 'inherit'
    })
    await broker.ready({ timeoutMs: 20_000 })
    const rssStart = rssOf(broker.child.pid)
    const observed = await drive(emulator, broker.url)
    const rssEnd = rssOf(broker.child.pid)
    process.stdout.write(report(observed, emulator.counters(), [rssStart, rssEnd]))
    return observed.underLifetime === 0 ? 0 : 1
  } finally {
    await broker?.stop()
    await emulator.close()
    await rm(dir, { recursive: true, force: true })
  }
}

process.exitCode = await main()
