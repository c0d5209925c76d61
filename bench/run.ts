// npm run bench        : the full benchmark (under 5 minutes on 2 cores); prints a table, writes bench/results.json
// npm run bench:smoke  : a few seconds per part, for CI; asserts only that every figure came out as a number
// Options: --smoke, --out=<file>, --parts=hot,miss,upstream,memory,cold
import { execFile, fork, spawn, type ChildProcess } from 'node:child_process'
import { randomUUID } from 'node:crypto'
import { once } from 'node:events'
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs'
import { Agent, get as httpGet, request as httpRequest } from 'node:http'
import { Agent as HttpsAgent, request as httpsRequest } from 'node:https'
import { createServer } from 'node:net'
import { cpus, freemem, totalmem, tmpdir } from 'node:os'
import { join } from 'node:path'
import { promisify } from 'node:util'
import { fileURLToPath } from 'node:url'
import autocannon from 'autocannon'
import { startEmulator, type Emulator } from '../src/emulator/emulator.js'
import {
  AUDIT_HMAC_KEY,
  benchPolicy,
  fakeTimeAt,
  median,
  percentiles,
  type Percentiles,
  type ServerArgs
} from './common.js'
import { zipfSampler } from '../scripts/zipf.js'

const ROOT = fileURLToPath(new URL('..', import.meta.url))
const argv = process.argv.slice(2)
const SMOKE = argv.includes('--smoke')
const OUT =
  argv.find((a) => a.startsWith('--out='))?.slice(6) ??
  (SMOKE ? join(tmpdir(), 'vi-token-broker-bench-smoke.json') : join(ROOT, 'bench/results.json'))
const PARTS = new Set(
  (argv.find((a) => a.startsWith('--parts='))?.slice(8) ?? 'hot,miss,upstream,memory,cold').split(',')
)
const WORK = mkdtempSync(join(tmpdir(), 'vi-bench-'))
const NO_PROXY_ENV = {
  HTTP_PROXY: '',
  HTTPS_PROXY: '',
  http_proxy: '',
  https_proxy: '',
  NO_PROXY: '127.0.0.1,localhost'
}

/** Every duration of the run, bounded; the smoke is a few seconds per part. */
const P = SMOKE
  ? {
      connections: 10,
      warmupS: 0.5,
      durationS: 1,
      rounds: 1,
      missBatches: 2,
      missBatch: 5,
      dayRealS: 4,
      simRate: 0.05,
      variants: [900],
      sizes: [10_000],
      bound: [20_000, 2_000],
      coldRuns: 1
    }
  : {
      connections: 10,
      warmupS: 2,
      durationS: 4,
      rounds: 3,
      missBatches: 10,
      missBatch: 20,
      dayRealS: 30,
      simRate: 0.25,
      variants: [900, 0],
      sizes: [10_000, 100_000, 1_000_000],
      bound: [100_000, 10_000],
      coldRuns: 5
    }
const ARM_LATENCY_MS = 50
const DAY_S = 86_400
const TOKEN_LIFETIME_S = 3600
const MIN_REMAINING_S = 300
const DISTINCT_IDS = 10_000
const ZIPF_S = 1.0

// ---------------------------------------------------------------- child servers

interface Server {
  url: string
  info: { jwksUri?: string; callerTokens?: string[] }
  call<T = unknown>(cmd: string, payload?: Record<string, unknown>): Promise<T>
  close(): Promise<void>
}

async function startServer (args: ServerArgs): Promise<Server> {
  const child: ChildProcess = fork(join(ROOT, 'bench/server.ts'), [JSON.stringify(args)], {
    execArgv: [
      '--import',
      'tsx',
      ...(process.env.BENCH_CPU_PROF ? ['--cpu-prof', `--cpu-prof-dir=${process.env.BENCH_CPU_PROF}`] : [])
    ],
    env: { ...process.env, ...NO_PROXY_ENV },
    stdio: ['ignore', 'inherit', 'inherit', 'ipc']
  })
  let nextId = 1
  const pending = new Map<number, { resolve(value: unknown): void; reject(error: Error): void }>()
  const ready = new Promise<{ url: string; jwksUri?: string; callerTokens?: string[] }>((resolve, reject) => {
    child.once('exit', (code) =>
      reject(new Error(`bench server (${args.role}) exited with ${code} before it was ready`))
    )
    child.on('message', (raw) => {
      const message = raw as { type?: string; id?: number; result?: unknown; error?: string; url?: string }
      if (message.type === 'ready') return resolve(message as { url: string })
      const waiter = pending.get(message.id ?? -1)
      if (!waiter) return
      pending.delete(message.id as number)
      if (message.error) waiter.reject(new Error(message.error))
      else waiter.resolve(message.result)
    })
  })
  const info = await ready
  const call = <T>(cmd: string, payload: Record<string, unknown> = {}) =>
    new Promise<T>((resolve, reject) => {
      const id = nextId++
      pending.set(id, { resolve: resolve as (value: unknown) => void, reject })
      child.send({ id, cmd, ...payload })
    })
  return {
    url: info.url,
    info,
    call,
    async close () {
      const exited = new Promise((resolve) => child.once('exit', resolve))
      await call('close').catch(() => undefined)
      const timer = setTimeout(() => child.kill('SIGKILL'), 5_000)
      await exited
      clearTimeout(timer)
    }
  }
}

// ---------------------------------------------------------------- helpers

const keepAlive = new Agent({ keepAlive: true, maxSockets: 1 })
function getJson (url: string, token?: string, agent: Agent = keepAlive): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const request = httpRequest(
      url,
      { agent, headers: token ? { authorization: `Bearer ${token}` } : {} },
      (response) => {
        let body = ''
        response.setEncoding('utf8')
        response.on('data', (chunk: string) => (body += chunk))
        response.on('end', () => resolve({ status: response.statusCode ?? 0, body }))
      }
    )
    request.on('error', reject)
    request.end()
  })
}

interface LoadResult {
  rps: number
  p50: number
  p99: number
  requests: number
  non2xx: number
  errors: number
  bytesPerResponse: number
}

async function load (url: string, token: string, durationS: number, connections = P.connections): Promise<LoadResult> {
  const result = await autocannon({
    url,
    connections,
    pipelining: 1,
    duration: durationS,
    headers: { authorization: `Bearer ${token}` }
  })
  return {
    rps: result.requests.total / result.duration,
    p50: result.latency.p50,
    p99: result.latency.p99,
    requests: result.requests.total,
    non2xx: result.non2xx,
    errors: result.errors,
    bytesPerResponse: result.throughput.total / Math.max(1, result.requests.total)
  }
}

/** Audit records in a broker log file, by cache outcome and status. */
function auditCounts (file: string) {
  const counts = {
    records: 0,
    hit: 0,
    miss: 0,
    refresh: 0,
    coalesced: 0,
    non200: 0,
    codes: {} as Record<string, number>
  }
  if (!existsSync(file)) return counts
  for (const line of readFileSync(file, 'utf8').split('\n')) {
    if (!line.includes('"audit":true')) continue
    const record = JSON.parse(line) as {
      cache: 'hit' | 'miss' | 'refresh' | 'coalesced' | null
      status: number
      code: string | null
    }
    counts.records++
    if (record.cache) counts[record.cache]++
    if (record.status !== 200) {
      counts.non200++
      counts.codes[record.code ?? String(record.status)] = (counts.codes[record.code ?? String(record.status)] ?? 0) + 1
    }
  }
  return counts
}

const round = (value: number, digits = 2) => Math.round(value * 10 ** digits) / 10 ** digits
const log = (text: string) => process.stderr.write(`[bench] ${text}\n`)

// ---------------------------------------------------------------- 1. hot path

async function hotPath (auth: 'hs256' | 'jwks') {
  const logFile = join(WORK, `hot-${auth}.log`)
  const broker = await startServer({ role: 'broker', auth, logFile })
  const token = (broker.info.callerTokens as string[])[0] as string
  const url = `${broker.url}/tokens/video/07ec9e38d4`
  const first = await getJson(url, token)
  if (first.status !== 200) throw new Error(`broker answered ${first.status}: ${first.body}`)
  const body = JSON.parse(first.body) as unknown
  const bare = await startServer({ role: 'bare', auth, body })
  const bareJwt = await startServer({
    role: 'bare-jwt',
    auth,
    body,
    ...(broker.info.jwksUri ? { jwksUri: broker.info.jwksUri } : {})
  })
  const targets = [
    { name: 'bare', url: `${bare.url}/tokens/video/07ec9e38d4` },
    { name: 'bare-jwt', url: `${bareJwt.url}/tokens/video/07ec9e38d4` },
    { name: 'broker', url }
  ] as const
  try {
    for (const target of targets) await load(target.url, token, P.warmupS)
    const runs: Record<string, LoadResult[]> = { bare: [], 'bare-jwt': [], broker: [] }
    for (let r = 0; r < P.rounds; r++) {
      // Alternate, and rotate who goes first, so drift on a shared machine hits all three alike.
      for (let i = 0; i < targets.length; i++) {
        const target = targets[(i + r) % targets.length] as (typeof targets)[number]
        const result = await load(target.url, token, P.durationS)
        runs[target.name]?.push(result)
        log(
          `hot ${auth} round ${r + 1} ${target.name}: ` +
            `${Math.round(result.rps)} req/s p50 ${result.p50} ms p99 ${result.p99} ms`
        )
      }
    }
    const summary = (name: string) => {
      const list = runs[name] as LoadResult[]
      return {
        rps: round(median(list.map((x) => x.rps)), 0),
        p50Ms: median(list.map((x) => x.p50)),
        p99Ms: median(list.map((x) => x.p99)),
        requests: list.reduce((s, x) => s + x.requests, 0),
        non2xx: list.reduce((s, x) => s + x.non2xx + x.errors, 0),
        bytesPerResponse: round(median(list.map((x) => x.bytesPerResponse)), 0),
        rounds: list.map((x) => round(x.rps, 0))
      }
    }
    const ratios = (baseline: string) =>
      (runs.broker as LoadResult[]).map((x, i) => x.rps / ((runs[baseline] as LoadResult[])[i] as LoadResult).rps)
    const audit = auditCounts(logFile)
    return {
      auth: auth === 'jwks' ? 'RS256 (JWKS)' : 'HS256',
      bodyBytes: Buffer.byteLength(JSON.stringify(body)),
      bare: summary('bare'),
      bareJwt: summary('bare-jwt'),
      broker: summary('broker'),
      brokerOverBare: round(median(ratios('bare'))),
      brokerOverBareJwt: round(median(ratios('bare-jwt'))),
      roundRatiosOverBareJwt: ratios('bare-jwt').map((x) => round(x)),
      audit
    }
  } finally {
    await Promise.all([broker.close(), bare.close(), bareJwt.close()])
  }
}

// ---------------------------------------------------------------- 2. miss path

/**
 * The upstream alone: generateRestrictedViewerAccessToken called from this process (the same client,
 * over the same loopback, as the broker requests), with a plain keep-alive HTTPS client and a
 * managed-identity token fetched once. Its latency is what a miss costs without the broker.
 */
async function directArmClient (target: {
  url: string
  caCertPem: string
  identityEndpoint: string
  identityHeader: string
}) {
  const agent = new HttpsAgent({ keepAlive: true, maxSockets: 1, ca: target.caCertPem })
  const identity = await fetch(
    `${target.identityEndpoint}?api-version=2019-08-01&resource=https://management.azure.com`,
    {
      headers: { 'x-identity-header': target.identityHeader }
    }
  )
  const bearer = ((await identity.json()) as { access_token: string }).access_token
  const post = (body: string) =>
    new Promise<number>((resolve, reject) => {
      const request = httpsRequest(
        target.url,
        {
          method: 'POST',
          agent,
          headers: {
            authorization: `Bearer ${bearer}`,
            'content-type': 'application/json',
            'content-length': Buffer.byteLength(body)
          }
        },
        (response) => {
          response.resume()
          response.on('end', () => resolve(response.statusCode ?? 0))
        }
      )
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

async function missPath () {
  const logFile = join(WORK, 'miss.log')
  const broker = await startServer({ role: 'broker', auth: 'jwks', logFile })
  const token = (broker.info.callerTokens as string[])[0] as string
  const brokerMiss = async (id: string) => {
    const started = performance.now()
    const response = await getJson(`${broker.url}/tokens/video/${id}`, token)
    const elapsed = performance.now() - started
    if (response.status !== 200) throw new Error(`broker answered ${response.status}: ${response.body}`)
    return elapsed
  }
  const freshId = () => randomUUID().replaceAll('-', '').slice(0, 20)
  let directClient: Awaited<ReturnType<typeof directArmClient>> | undefined
  try {
    await broker.call('fault', { fault: { latencyMs: ARM_LATENCY_MS } })
    // Warm-up (the first miss fetches the managed-identity token and opens the TLS connection).
    for (let i = 0; i < 5; i++) await brokerMiss(freshId())
    directClient = await directArmClient(await broker.call('arm-target'))
    const client = directClient
    for (let i = 0; i < 3; i++) await client.call(freshId())
    const brokerSamples: number[] = []
    const directSamples: number[] = []
    for (let b = 0; b < P.missBatches; b++) {
      // Refill ARM's write bucket (reset also clears the fault), so the broker's ARM gate never paces.
      await broker.call('reset')
      await broker.call('fault', { fault: { latencyMs: ARM_LATENCY_MS } })
      const ids = Array.from({ length: P.missBatch }, freshId)
      const runDirect = async () => {
        for (const id of ids.map(() => freshId())) directSamples.push(await client.call(id))
      }
      const runBroker = async () => {
        for (const id of ids) brokerSamples.push(await brokerMiss(id))
      }
      if (b % 2 === 0) await runBroker().then(runDirect)
      else await runDirect().then(runBroker)
    }
    const brokerLatency = percentiles(brokerSamples)
    const direct = percentiles(directSamples)
    const overhead = percentiles(brokerSamples.map((x) => x - ARM_LATENCY_MS))
    const audit = auditCounts(logFile)
    log(`miss: broker p50 ${brokerLatency.p50.toFixed(2)} ms, direct ARM p50 ${direct.p50.toFixed(2)} ms`)
    const r = (p: Percentiles) => ({ p50Ms: round(p.p50), p99Ms: round(p.p99), meanMs: round(p.mean), n: p.n })
    return {
      armLatencyMs: ARM_LATENCY_MS,
      brokerMiss: r(brokerLatency),
      directArm: r(direct),
      overheadOverFixedLatency: r(overhead),
      overheadOverDirectArm: {
        p50Ms: round(brokerLatency.p50 - direct.p50),
        p99Ms: round(brokerLatency.p99 - direct.p99)
      },
      auditMisses: audit.miss
    }
  } finally {
    directClient?.close()
    await broker.close()
  }
}

// ---------------------------------------------------------------- 3. upstream efficiency

/** Small seeded PRNG, so every run replays the same day. */
function mulberry32 (seed: number) {
  return () => {
    seed = (seed + 0x6d2b79f5) | 0
    let t = Math.imul(seed ^ (seed >>> 15), 1 | seed)
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296
  }
}

const videoIdOf = (rank: number) => (Math.imul(rank + 1, 2654435761) >>> 0).toString(16).padStart(8, '0') + 'v' + rank

/** The issue's ideal: keys touched in each token-lifetime window; and the exact on-demand optimum for comparison. */
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

async function upstream (refreshAheadSeconds: number) {
  const logFile = join(WORK, `upstream-${refreshAheadSeconds}.log`)
  const broker = await startServer({
    role: 'broker',
    auth: 'jwks',
    logFile,
    fakeClock: true,
    refreshAheadSeconds,
    // The broker's own identity token must outlive the simulated day (its refresh runs on real time).
    identityTokenLifetimeSeconds: 40 * DAY_S
  })
  const tokens = broker.info.callerTokens as string[]
  const speedup = DAY_S / P.dayRealS
  const realRate = P.simRate * speedup
  const sample = zipfSampler(DISTINCT_IDS, ZIPF_S, mulberry32(7))
  const touches: Array<[number, number]> = []
  let nextCaller = 0
  try {
    const clock = await broker.call<{ realStart: number; fakeStart: number; speedup: number }>('start-clock', {
      speedup
    })
    const result = await autocannon({
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
    const counters = await broker.call<{
      arm: { generateRestrictedViewerAccessToken: number; byStatus: Record<string, number> }
    }>('counters')
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

// ---------------------------------------------------------------- 4. memory

const execFileAsync = promisify(execFile)
async function memory (count: number, maxEntries: number) {
  const { stdout } = await execFileAsync(
    process.execPath,
    [
      '--expose-gc',
      '--max-old-space-size=4096',
      '--import',
      'tsx',
      join(ROOT, 'bench/memory.ts'),
      String(count),
      String(maxEntries)
    ],
    { cwd: ROOT, maxBuffer: 1 << 20, timeout: 120_000 }
  )
  const m = JSON.parse(stdout) as Record<string, number>
  log(`memory ${count} into ${maxEntries}: heap +${((m.heapDeltaBytes as number) / 2 ** 20).toFixed(1)} MiB`)
  return {
    inserted: m.inserted,
    maxEntries: m.maxEntries,
    held: m.held,
    meanTokenBytes: round(m.meanTokenBytes as number, 0),
    rssMiB: round((m.rssBytes as number) / 2 ** 20, 1),
    heapUsedMiB: round((m.heapUsedBytes as number) / 2 ** 20, 1),
    heapDeltaMiB: round((m.heapDeltaBytes as number) / 2 ** 20, 1),
    heapPerTokenBytes: round(m.heapPerTokenBytes as number, 0),
    overheadPerTokenBytes: round(m.overheadPerTokenBytes as number, 0)
  }
}

// ---------------------------------------------------------------- 5. cold start

function newestMtime (dir: string): number {
  let newest = 0
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name)
    newest = Math.max(newest, entry.isDirectory() ? newestMtime(path) : statSync(path).mtimeMs)
  }
  return newest
}

/**
 * What is timed: `node dist/server.bundle.js` (what `npm start` and the image run) and, for comparison,
 * the unbundled tsc output `node dist/server.js`; both are built first when older than src/. If the
 * build fails, `node --import tsx src/server.ts` is timed instead.
 */
async function serverCommands (): Promise<Array<{ args: string[]; runner: string }>> {
  const entries = ['dist/server.bundle.js', 'dist/server.js'].map((entry) => join(ROOT, entry))
  const newestSource = newestMtime(join(ROOT, 'src'))
  const fresh = () => entries.every((entry) => existsSync(entry) && statSync(entry).mtimeMs >= newestSource)
  if (!fresh()) {
    log('dist/ is older than src/: npm run build')
    try {
      await execFileAsync('npm', ['run', 'build'], { cwd: ROOT, timeout: 120_000 })
    } catch (error) {
      log(`build failed, timing src/server.ts through tsx instead: ${(error as Error).message.split('\n')[0]}`)
    }
  }
  if (!fresh()) {
    return [{ args: ['--import', 'tsx', join(ROOT, 'src/server.ts')], runner: 'node --import tsx src/server.ts' }]
  }
  return entries.map((entry) => ({ args: [entry], runner: `node ${entry.slice(ROOT.length)}` }))
}

async function freePort (): Promise<number> {
  const server = createServer().listen(0, '127.0.0.1')
  await once(server, 'listening')
  const { port } = server.address() as { port: number }
  await new Promise((resolve) => server.close(resolve))
  return port
}

function readyz (port: number): Promise<number> {
  return new Promise((resolve) => {
    const request = httpGet({ host: '127.0.0.1', port, path: '/readyz', agent: false }, (response) => {
      response.resume()
      resolve(response.statusCode ?? 0)
    })
    request.on('error', () => resolve(0))
  })
}

async function coldStartOnce (command: string[], env: Record<string, string>): Promise<number> {
  const port = await freePort()
  const started = performance.now()
  const child = spawn(process.execPath, command, { cwd: ROOT, env: { ...env, PORT: String(port) }, stdio: 'ignore' })
  const exited = new Promise((resolve) => child.once('exit', resolve))
  try {
    for (;;) {
      if (child.exitCode !== null) throw new Error(`the broker exited with ${child.exitCode} before /readyz answered`)
      if ((await readyz(port)) === 200) return performance.now() - started
      if (performance.now() - started > 20_000) throw new Error('no 200 from /readyz within 20 s')
      await new Promise((resolve) => setTimeout(resolve, 2))
    }
  } finally {
    child.kill('SIGTERM')
    await exited
  }
}

async function coldStart (emulator: Emulator) {
  const commands = await serverCommands()
  const policyFile = join(WORK, 'policy.json')
  writeFileSync(policyFile, JSON.stringify(benchPolicy()))
  const account = emulator.accounts[0] as Emulator['accounts'][number]
  // Not brokerEnvironment(): its NODE_EXTRA_CA_CERTS makes Node load a CA file at start (about 40 ms
  // here), which a broker on AKS, talking to the real ARM, does not do; ready needs no ARM call.
  const env: Record<string, string> = {
    PATH: process.env.PATH ?? '',
    ...NO_PROXY_ENV,
    HOST: '127.0.0.1',
    LOG_LEVEL: 'info',
    AVI_SUBSCRIPTION_ID: account.subscriptionId,
    AVI_RESOURCE_GROUP: account.resourceGroup,
    AVI_ACCOUNT_NAME: account.accountName,
    ARM_ENDPOINT: emulator.armEndpoint,
    AUTH_JWKS_URI: emulator.jwksUri,
    AUTH_ISSUER: emulator.issuer,
    AUTH_AUDIENCE: emulator.audience,
    POLICY_FILE: policyFile,
    AUDIT_HMAC_KEY,
    IDENTITY_ENDPOINT: emulator.identityEndpoint,
    IDENTITY_HEADER: emulator.identityHeader,
    SHUTDOWN_DELAY_MS: '0'
  }
  const variants = commands.flatMap(({ args, runner }, i) => [
    { runner, docs: true, args, runs: [] as number[] },
    // DOCS_ENABLED=false, as in the Kubernetes manifests, for the entry that ships.
    ...(i === 0 ? [{ runner, docs: false, args, runs: [] as number[] }] : [])
  ])
  for (const { args } of commands) await coldStartOnce(args, env) // warms the OS file cache; not counted
  for (let i = 0; i < P.coldRuns; i++) {
    for (const variant of variants) {
      variant.runs.push(await coldStartOnce(variant.args, variant.docs ? env : { ...env, DOCS_ENABLED: 'false' }))
    }
  }
  const summary = variants.map(({ runner, docs, runs }) => ({
    runner,
    docsEnabled: docs,
    medianMs: round(median(runs), 0),
    maxMs: round(Math.max(...runs), 0),
    runs: runs.map((x) => round(x, 0))
  }))
  log(`cold start (${summary[0]?.runner}): median ${summary[0]?.medianMs} ms`)
  return summary
}

// ---------------------------------------------------------------- main

async function main () {
  const started = performance.now()
  const results: Record<string, unknown> = {
    mode: SMOKE ? 'smoke' : 'full',
    date: new Date().toISOString(),
    machine: {
      cpu: cpus()[0]?.model ?? 'unknown',
      nproc: cpus().length,
      node: process.version,
      memoryGiB: round(totalmem() / 2 ** 30, 1),
      freeMemoryGiBAtStart: round(freemem() / 2 ** 30, 1)
    }
  }
  try {
    if (PARTS.has('hot')) results.hotPath = [await hotPath('jwks'), await hotPath('hs256')]
    if (PARTS.has('miss')) results.missPath = await missPath()
    if (PARTS.has('upstream')) {
      const variants = []
      for (const refreshAhead of P.variants) variants.push(await upstream(refreshAhead))
      results.upstream = variants
    }
    if (PARTS.has('memory')) {
      const sizes = []
      for (const size of P.sizes) sizes.push(await memory(size, size))
      const [inserted, bound] = P.bound as [number, number]
      results.memory = { sizes, bound: { ...(await memory(inserted, bound)), unboundedWouldHold: inserted } }
    }
    if (PARTS.has('cold')) {
      const emulator = await startEmulator()
      try {
        results.coldStart = await coldStart(emulator)
      } finally {
        await emulator.close()
      }
    }
  } finally {
    rmSync(WORK, { recursive: true, force: true })
  }
  results.elapsedSeconds = round((performance.now() - started) / 1000, 0)
  results.targets = targets(results)
  writeFileSync(OUT, JSON.stringify(results, null, 2) + '\n')
  process.stdout.write(table(results) + '\n')
  process.stdout.write(`\nwrote ${OUT} (${results.elapsedSeconds} s)\n`)
  const problems = check(results)
  if (problems.length > 0) {
    process.stderr.write(`bench: the run did not produce every figure:\n  ${problems.join('\n  ')}\n`)
    process.exitCode = 1
  }
}

type Results = Record<string, any>

function targets (r: Results) {
  const list: Array<{ target: string; measured: string; met: boolean }> = []
  for (const hot of r.hotPath ?? []) {
    list.push({
      target: `cache-hit throughput ≥ 0.80 × baseline (b), ${hot.auth}`,
      measured: `${hot.brokerOverBareJwt}`,
      met: hot.brokerOverBareJwt >= 0.8
    })
  }
  if (r.missPath) {
    const p50 = r.missPath.overheadOverFixedLatency.p50Ms
    list.push({ target: 'miss overhead p50 ≤ 2 ms', measured: `${p50} ms`, met: p50 <= 2 })
  }
  const primary = (r.upstream ?? [])[0]
  if (primary) {
    list.push({
      target: 'ARM calls ÷ ideal ≤ 1.05 (default config)',
      measured: `${primary.armOverIdeal}`,
      met: primary.armOverIdeal <= 1.05
    })
  }
  for (const size of r.memory?.sizes ?? []) {
    list.push({
      target: `overhead ≤ 400 B per cached token, ${size.held} tokens`,
      measured: `${size.overheadPerTokenBytes} B`,
      met: size.overheadPerTokenBytes <= 400
    })
  }
  const shipped = (r.coldStart ?? [])[0]
  if (shipped) {
    list.push({
      target: `cold start to ready < 500 ms (${shipped.runner}, docs on)`,
      measured: `${shipped.medianMs} ms`,
      met: shipped.medianMs < 500
    })
  }
  return list
}

function table (r: Results): string {
  const rows: string[][] = []
  const m = r.machine
  const out = [`vi-token-broker bench (${r.mode}), ${m.nproc} × ${m.cpu}, Node ${m.node}, ${r.date}`, '']
  for (const hot of r.hotPath ?? []) {
    for (const [label, x] of [
      ['(a) bare Fastify', hot.bare],
      ['(b) Fastify + @fastify/jwt', hot.bareJwt],
      ['broker (cache hit)', hot.broker]
    ] as const) {
      rows.push([`1. hot path, ${hot.auth}`, label, `${x.rps} req/s`, `p50 ${x.p50Ms} ms, p99 ${x.p99Ms} ms`])
    }
    rows.push([
      `1. hot path, ${hot.auth}`,
      'broker / (a), broker / (b)',
      `${hot.brokerOverBare}, ${hot.brokerOverBareJwt}`,
      `median of ${hot.broker.rounds.length} alternating rounds`
    ])
  }
  if (r.missPath) {
    const x = r.missPath
    rows.push([
      '2. miss path',
      `broker miss, ARM latency ${x.armLatencyMs} ms`,
      `p50 ${x.brokerMiss.p50Ms} ms`,
      `p99 ${x.brokerMiss.p99Ms} ms (n=${x.brokerMiss.n})`
    ])
    rows.push([
      '2. miss path',
      `broker miss − ${x.armLatencyMs} ms`,
      `p50 ${x.overheadOverFixedLatency.p50Ms} ms`,
      `p99 ${x.overheadOverFixedLatency.p99Ms} ms`
    ])
    rows.push([
      '2. miss path',
      'direct ARM call (same emulator)',
      `p50 ${x.directArm.p50Ms} ms`,
      `p99 ${x.directArm.p99Ms} ms`
    ])
    rows.push([
      '2. miss path',
      'broker miss − direct ARM call',
      `p50 ${x.overheadOverDirectArm.p50Ms} ms`,
      `p99 ${x.overheadOverDirectArm.p99Ms} ms`
    ])
  }
  for (const x of r.upstream ?? []) {
    rows.push([
      `3. upstream, refresh-ahead ${x.refreshAheadSeconds} s`,
      `${x.requests} req/day, ${x.armCalls} ARM calls, ideal ${x.ideal}`,
      `ARM ÷ ideal ${x.armOverIdeal}`,
      `no cache ${x.noCacheOverIdeal}; ÷ on-demand optimum ${x.armOverOptimum}`
    ])
  }
  for (const x of [...(r.memory?.sizes ?? []), ...(r.memory?.bound ? [r.memory.bound] : [])]) {
    rows.push([
      '4. memory',
      `${x.inserted} tokens into CACHE_MAX_ENTRIES=${x.maxEntries} (held ${x.held})`,
      `RSS ${x.rssMiB} MiB, heap ${x.heapUsedMiB} MiB`,
      `+${x.heapDeltaMiB} MiB heap, ${x.heapPerTokenBytes} B/token, overhead ${x.overheadPerTokenBytes} B/token`
    ])
  }
  for (const x of r.coldStart ?? []) {
    rows.push([
      '5. cold start',
      `${x.runner}, ${x.docsEnabled ? 'docs on' : 'DOCS_ENABLED=false'}`,
      `median ${x.medianMs} ms`,
      `max ${x.maxMs} ms`
    ])
  }
  out.push(
    '| Part | Measure | Result | Detail |',
    '| --- | --- | --- | --- |',
    ...rows.map((row) => `| ${row.join(' | ')} |`)
  )
  out.push('', '| Target | Measured | Met |', '| --- | --- | --- |')
  for (const t of r.targets as Array<{ target: string; measured: string; met: boolean }>) {
    out.push(`| ${t.target} | ${t.measured} | ${t.met ? 'yes' : 'no'} |`)
  }
  return out.join('\n')
}

/** The smoke's only assertion: every part ran, every figure is a finite number, and the load got 200s. */
function check (r: Results): string[] {
  const problems: string[] = []
  const walk = (value: unknown, path: string) => {
    if (typeof value === 'number' && !Number.isFinite(value)) problems.push(`${path} is ${value}`)
    else if (value && typeof value === 'object') {
      for (const [key, child] of Object.entries(value)) walk(child, `${path}.${key}`)
    }
  }
  walk(r, 'results')
  for (const part of ['hotPath', 'missPath', 'upstream', 'memory', 'coldStart']) {
    const name = { hotPath: 'hot', missPath: 'miss', upstream: 'upstream', memory: 'memory', coldStart: 'cold' }[
      part
    ] as string
    if (PARTS.has(name) && r[part] === undefined) problems.push(`${part} is missing`)
  }
  for (const hot of r.hotPath ?? []) {
    for (const key of ['bare', 'bareJwt', 'broker']) {
      if (!(hot[key].rps > 0)) problems.push(`hotPath ${hot.auth} ${key}: no requests`)
      if (hot[key].non2xx > 0) problems.push(`hotPath ${hot.auth} ${key}: ${hot[key].non2xx} non-2xx answers or errors`)
    }
  }
  for (const x of r.upstream ?? []) {
    if (!(x.armCalls > 0 && x.ideal > 0)) problems.push('upstream: no ARM calls or no ideal')
    if (x.non2xx > 0) problems.push(`upstream: ${x.non2xx} non-2xx answers or errors`)
  }
  return problems
}

await main()
