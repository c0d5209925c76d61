// The run's report: its targets, met or not, and the table printed at the end (and copied into the docs).
import type { BenchResults, Target } from './results.js'

export function targets (r: BenchResults): Target[] {
  const list: Target[] = []
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
  const primary = r.upstream?.[0]
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
  const shipped = r.coldStart?.[0]
  if (shipped) {
    list.push({
      target: `cold start to ready < 500 ms (${shipped.runner}, docs on)`,
      measured: `${shipped.medianMs} ms`,
      met: shipped.medianMs < 500
    })
  }
  return list
}

type Row = [part: string, measure: string, result: string, detail: string]

function hotRows (r: BenchResults): Row[] {
  return (r.hotPath ?? []).flatMap((hot): Row[] => [
    ...([
      ['(a) bare Fastify', hot.bare],
      ['(b) Fastify + @fastify/jwt', hot.bareJwt],
      ['broker (cache hit)', hot.broker]
    ] as const).map(([label, x]): Row => [
      `1. hot path, ${hot.auth}`,
      label,
      `${x.rps} req/s`,
      `p50 ${x.p50Ms} ms, p99 ${x.p99Ms} ms`
    ]),
    [
      `1. hot path, ${hot.auth}`,
      'broker / (a), broker / (b)',
      `${hot.brokerOverBare}, ${hot.brokerOverBareJwt}`,
      `median of ${hot.broker.rounds.length} alternating rounds`
    ]
  ])
}

function missRows (r: BenchResults): Row[] {
  const x = r.missPath
  if (!x) return []
  return [
    [
      '2. miss path',
      `broker miss, ARM latency ${x.armLatencyMs} ms`,
      `p50 ${x.brokerMiss.p50Ms} ms`,
      `p99 ${x.brokerMiss.p99Ms} ms (n=${x.brokerMiss.n})`
    ],
    [
      '2. miss path',
      `broker miss − ${x.armLatencyMs} ms`,
      `p50 ${x.overheadOverFixedLatency.p50Ms} ms`,
      `p99 ${x.overheadOverFixedLatency.p99Ms} ms`
    ],
    ['2. miss path', 'direct ARM call (same emulator)', `p50 ${x.directArm.p50Ms} ms`, `p99 ${x.directArm.p99Ms} ms`],
    [
      '2. miss path',
      'broker miss − direct ARM call',
      `p50 ${x.overheadOverDirectArm.p50Ms} ms`,
      `p99 ${x.overheadOverDirectArm.p99Ms} ms`
    ]
  ]
}

function otherRows (r: BenchResults): Row[] {
  const rows: Row[] = []
  for (const x of r.upstream ?? []) {
    rows.push([
      `3. upstream, refresh-ahead ${x.refreshAheadSeconds} s`,
      `${x.requests} req/day, ${x.armCalls} ARM calls, ideal ${x.ideal}`,
      `ARM ÷ ideal ${x.armOverIdeal}`,
      `no cache ${x.noCacheOverIdeal}; ÷ on-demand optimum ${x.armOverOptimum}`
    ])
  }
  for (const x of [...(r.memory?.sizes ?? []), ...(r.memory ? [r.memory.bound] : [])]) {
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
  return rows
}

export function table (r: BenchResults): string {
  const m = r.machine
  const rows = [...hotRows(r), ...missRows(r), ...otherRows(r)]
  return [
    `vi-token-broker bench (${r.mode}), ${m.nproc} × ${m.cpu}, Node ${m.node}, ${r.date}`,
    '',
    '| Part | Measure | Result | Detail |',
    '| --- | --- | --- | --- |',
    ...rows.map((row) => `| ${row.join(' | ')} |`),
    '',
    '| Target | Measured | Met |',
    '| --- | --- | --- |',
    ...(r.targets ?? []).map((t) => `| ${t.target} | ${t.measured} | ${t.met ? 'yes' : 'no'} |`)
  ].join('\n')
}
