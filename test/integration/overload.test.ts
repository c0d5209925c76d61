// Load shedding on a real listening broker: a busy broker that answers quickly never sheds; a broker
// whose event loop is genuinely slow sheds a share of token requests, and serves again soon after.
import { Agent, request as httpRequest } from 'node:http'
import { monitorEventLoopDelay, performance } from 'node:perf_hooks'
import autocannon from 'autocannon'
import t from 'tap'
import { build } from '../helper.js'
import { callerToken } from '../support/tokens.js'

const POLICY = {
  rateLimit: { max: 1_000_000, timeWindow: '1 minute' },
  callers: { 'load-bff': { allow: [{ scope: 'video' }] } }
}

async function listening (t: Parameters<typeof build>[0]) {
  const broker = await build(t, { policy: POLICY, env: { LOG_LEVEL: 'warn', OVERLOAD_TARGET_DELAY_MS: undefined } })
  const url = await broker.app.listen({ port: 0, host: '127.0.0.1' })
  const token = await callerToken('load-bff')
  broker.logs.secret(token)
  return { ...broker, url, token }
}

t.test('a busy broker answering quickly sheds nothing: 64 keep-alive connections, one cached token', async (t) => {
  const { url, token, logs } = await listening(t)
  // The premise, "answering quickly", is checked independently of the shedder: Node's own event-loop
  // delay histogram must show 99% of the loop's turns within the default target (250 ms). A machine
  // shared with other work can stall the broker for longer (its callers then really do wait, and
  // shedding is right), so rounds are run until one meets the premise; in that round nothing is shed.
  // (The utilization-based shedder shed 85% of such a round.)
  let conclusive = false
  for (let round = 1; round <= 3 && !conclusive; round++) {
    const before = logs.audits.filter((a) => a.code === 'OVERLOADED').length
    const loop = monitorEventLoopDelay({ resolution: 10 })
    loop.enable()
    const result = await autocannon({
      url: `${url}/tokens/video/hot`,
      headers: { authorization: `Bearer ${token}` },
      connections: 64,
      duration: 2,
      // In a thread of its own, as a client elsewhere would be: the broker's event loop runs the broker only.
      workers: 1
    })
    loop.disable()
    // The histogram records the time between its 10 ms timer's firings.
    const loopP99Ms = Math.max(0, loop.percentile(99) / 1e6 - 10)
    const shed = logs.audits.filter((a) => a.code === 'OVERLOADED').length - before
    const statuses = Object.entries(result.statusCodeStats ?? {}).map(([status, { count }]) => `${status}: ${count}`)
    t.comment(
      `round ${round}: ${result.requests.total} requests (${statuses.join(', ')}), ` +
        `p50 ${result.latency.p50} ms, p99 ${result.latency.p99} ms; event-loop delay p99 ${Math.round(loopP99Ms)} ms`
    )
    t.ok(result.requests.total > 100, 'the broker was kept busy')
    t.equal(result.errors, 0)
    const others = logs.audits.filter((a) => a.status !== 200 && a.code !== 'OVERLOADED').length
    t.equal(others, 0, 'every answer other than a token was OVERLOADED')
    if (loopP99Ms < 250) {
      conclusive = true
      t.equal(shed, 0, `round ${round}: the loop answered within the target: 0 OVERLOADED`)
    }
  }
  if (!conclusive) t.comment('this machine stalled the broker over 250 ms in every round: the premise never held')
})

/** Token requests on 8 keep-alive connections until stopped; each answer is kept with its time. */
function steadyLoad (url: string, token: string) {
  const agent = new Agent({ keepAlive: true, maxSockets: 8 })
  const answers: Array<{ at: number; status: number; code: string | undefined; close: boolean }> = []
  const state = { running: true }
  const one = () =>
    new Promise<void>((resolve) => {
      const req = httpRequest(`${url}/tokens/video/hot`, { agent, headers: { authorization: `Bearer ${token}` } })
      req.on('response', (res) => {
        let body = ''
        res.setEncoding('utf8')
        res.on('data', (chunk: string) => (body += chunk))
        res.on('end', () => {
          const code = res.statusCode === 200 ? undefined : (JSON.parse(body) as { error: { code: string } }).error.code
          const close = res.headers.connection === 'close'
          answers.push({ at: performance.now(), status: res.statusCode ?? 0, code, close })
          resolve()
        })
      })
      req.on('error', () => resolve())
      req.end()
    })
  const workers = Array.from({ length: 8 }, async () => {
    while (state.running) await one()
  })
  return {
    answers,
    async stop () {
      state.running = false
      await Promise.all(workers)
      agent.destroy()
    }
  }
}

/**
 * Blocks the event loop for blockMs out of every periodMs, as a hogged process would be. With blockMs equal to
 * periodMs no turn of the loop is prompt: every request waits behind the hog, as behind a standing queue.
 */
function cpuHog (blockMs: number, periodMs: number) {
  const timer = setInterval(() => {
    const end = performance.now() + blockMs
    while (performance.now() < end) {
      // busy
    }
  }, periodMs)
  return () => clearInterval(timer)
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms))

t.test('a genuinely slow event loop sheds token requests, health checks still answer, and it recovers', async (t) => {
  const { url, token } = await listening(t)
  const load = steadyLoad(url, token)
  await sleep(500)
  const stopHog = cpuHog(400, 400)
  await sleep(2_000)
  const health = await fetch(`${url}/healthz`)
  t.equal(health.status, 200, 'the liveness check is never shed')
  stopHog()
  const stoppedAt = performance.now()
  await sleep(4_000)
  await load.stop()

  const before = load.answers.filter((a) => a.at < stoppedAt)
  const shed = before.filter((a) => a.code === 'OVERLOADED')
  t.ok(shed.length > 0, `shed while the loop was slow (${shed.length} of ${before.length})`)
  t.equal(shed.filter((a) => a.close).length, 0, 'a shed caller keeps its connection: reconnecting costs more')
  t.same(
    [...new Set(load.answers.map((a) => a.code ?? String(a.status)))].sort(),
    ['200', 'OVERLOADED'],
    'every answer was a token or OVERLOADED'
  )
  const lastShed = Math.max(...load.answers.filter((a) => a.code === 'OVERLOADED').map((a) => a.at))
  const recoveredAfterMs = Math.max(0, lastShed - stoppedAt)
  t.comment(`last OVERLOADED ${Math.round(recoveredAfterMs)} ms after the slowness stopped`)
  // The design recovers in about half a second; the margin is for a noisy machine.
  t.ok(recoveredAfterMs < 3_000, 'shedding stopped within a couple of seconds of the slowness ending')
  const after = load.answers.filter((a) => a.at > lastShed)
  t.ok(after.length > 50, `served again afterwards (${after.length} answers, all 200)`)
  const metrics = await (await fetch(`${url}/metrics`)).text()
  const allShed = load.answers.filter((a) => a.code === 'OVERLOADED').length
  t.match(metrics, new RegExp(`^vi_broker_requests_shed_total ${allShed}$`, 'm'), 'each shed request is counted')
  t.match(metrics, /^vi_broker_shed_probability 0$/m, 'the shed probability is back to 0')
})
