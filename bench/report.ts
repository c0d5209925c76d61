// The run's report: its targets, met or not, and the table printed at the end (and copied into the docs).
import { round } from './common.js'
import type { BenchResults, Target } from './results.js'

const percent = (share: number) => `${round(share * 100, 1)} %`
const counts = (statuses: Record<string, number>) =>
  Object.entries(statuses)
    .map(([status, count]) => `${count} × ${status}`)
    .join(', ')

function hotTargets (r: BenchResults): Target[] {
  return (r.hotPath ?? []).flatMap((hot) => [
    {
      target: `hot path, ${hot.connections} connections, ${hot.auth}: 0 answers other than 200`,
      measured: hot.broker.non2xx === 0 ? '0' : `${hot.broker.non2xx} (${counts(hot.broker.statuses)})`,
      met: hot.broker.non2xx === 0
    },
    {
      target: `hot path goodput ≥ 1.0 × baseline (b), ${hot.auth}`,
      measured: `${hot.brokerOverBareJwt}`,
      met: hot.brokerOverBareJwt >= 1
    }
  ])
}

function overloadTargets (r: BenchResults): Target[] {
  return (r.overload?.rates ?? [])
    .filter((x) => x.multiple >= 2)
    .flatMap((x) => [
      {
        target: `overload ${x.multiple}× capacity: goodput ≥ 0.9 × capacity`,
        measured: `${x.goodputOverCapacity}`,
        met: x.goodputOverCapacity >= 0.9
      },
      {
        target: `overload ${x.multiple}× capacity: p99 of the 2xx answers < 250 ms`,
        measured: `${x.p99Ms} ms`,
        met: x.p99Ms < 250
      }
    ])
}

export function targets (r: BenchResults): Target[] {
  const list: Target[] = hotTargets(r)
  if (r.missPath) {
    const p50 = r.missPath.overheadOverFixedLatency.p50Ms
    list.push({ target: 'miss overhead p50 ≤ 2 ms', measured: `${p50} ms`, met: p50 <= 2 })
  }
  const primary = r.upstream?.[0]
  if (primary) {
    list.push({
      target: 'ARM calls ÷ ideal ≤ 1.05 (default config)',
      measured: `${primary.armOverIdeal}` + (primary.non2xx > 0 ? ` (${primary.non2xx} answers not 200)` : ''),
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
  return [...list, ...overloadTargets(r), ...capacityTargets(r)]
}

function capacityTargets (r: BenchResults): Target[] {
  const pool = r.capacity?.runs.find((x) => x.identities === 2)
  if (!pool) return []
  return [
    { target: 'capacity, 2 identities: 0 ARM 429s', measured: `${pool.arm429}`, met: pool.arm429 === 0 },
    {
      target: 'capacity, 2 identities: ARM calls ÷ ideal ≤ 1.02',
      measured: `${pool.armOverIdeal}`,
      met: pool.armOverIdeal <= 1.02
    }
  ]
}

function capacityRows (r: BenchResults): Row[] {
  const c = r.capacity
  if (!c) return []
  const part = '8. capacity'
  return c.runs.flatMap((x): Row[] => [
    [
      part,
      `${x.identities} identit${x.identities === 1 ? 'y' : 'ies'}: ${x.requests} requests in ${x.durationS} s, ` +
        `demand ${x.demandOverOneIdentity} × one refill`,
      `ARM ÷ ideal ${x.armOverIdeal}, ${x.arm429} × 429`,
      `${x.armCalls} ARM calls, ideal ${x.ideal}; ${counts(x.statuses)}`
    ],
    [
      part,
      `${x.identities} identit${x.identities === 1 ? 'y' : 'ies'}: served without waiting for ARM`,
      percent(x.servedWithoutArmShare),
      `waited: ${x.waitedForArm.n}, p50 ${x.waitedForArm.p50Ms} ms, p99 ${x.waitedForArm.p99Ms} ms`
    ],
    [
      part,
      `${x.identities} identit${x.identities === 1 ? 'y' : 'ies'}: 503s and who got them`,
      `${x.unavailable.n} × 503 (${x.unavailable.withRetryAfter} with Retry-After)`,
      `for ids held in cache: ${x.unavailable.forIdsHeldInCache}; 200s: ${x.popular.ids} ids ` +
        `${percent(x.popular.okShare)} of ${x.popular.requests}, ` +
        `${x.tail.ids} ${percent(x.tail.okShare)} of ${x.tail.requests}`
    ]
  ])
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
      `${x.goodput} 2xx/s`,
      `p50 ${x.p50Ms} ms, p99 ${x.p99Ms} ms` + (x.non2xx > 0 ? `; ${counts(x.statuses)}` : '')
    ]),
    [
      `1. hot path, ${hot.auth}`,
      `goodput broker / (a), broker / (b), ${hot.connections} connections`,
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
      `no cache ${x.noCacheOverIdeal}; ÷ on-demand optimum ${x.armOverOptimum}` +
        (x.non2xx > 0 ? `; ${x.non2xx} answers not 200 (${counts(x.errorCodes)})` : '')
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

function overloadRows (r: BenchResults): Row[] {
  const x = r.overload
  if (!x) return []
  return [
    ...x.closedLoops.map((c): Row => [
      '6. overload',
      `closed loop, ${c.connections} connections (${x.runner}, CPU limited by ${x.cpuLimit.method})`,
      `${c.goodputPerSecond} 2xx/s` + (c.goodputPerSecond === x.capacityPerSecond ? ' = capacity' : ''),
      `p50 ${c.p50Ms} ms, p99 ${c.p99Ms} ms, ${percent(c.non2xxShare)} not 2xx`
    ]),
    ...x.rates.map((rate): Row => [
      '6. overload',
      `open loop ${rate.multiple}× capacity: ${rate.offeredPerSecond} req/s, ${rate.connections} connections`,
      `${rate.goodputPerSecond} 2xx/s (${rate.goodputOverCapacity} × capacity)`,
      `2xx p50 ${rate.p50Ms} ms, p99 ${rate.p99Ms} ms; shed ${percent(rate.shedShare)}` +
        (Object.keys(rate.otherStatuses).length > 0 ? `; other: ${counts(rate.otherStatuses)}` : '') +
        (rate.errors + rate.unanswered > 0 ? `; ${rate.errors} errors, ${rate.unanswered} unanswered` : '')
    ]),
    ...(x.closedLoopAfter
      ? [
          [
            '6. overload',
            `closed loop, ${x.closedLoopAfter.connections} connections, again after the open loops`,
            `${x.closedLoopAfter.goodputPerSecond} 2xx/s`,
            `${round(x.closedLoopAfter.goodputPerSecond / x.capacityPerSecond)} × capacity: the drift meanwhile`
          ] satisfies Row
        ]
      : [])
  ]
}

function tracingRows (r: BenchResults): Row[] {
  const x = r.tracing
  if (!x) return []
  return [
    ...([['tracing off (as shipped)', x.off], ['tracing on, every span exported', x.on]] as const).map(
      ([label, t]): Row => [
        `7. tracing, hot path RS256, ${x.connections} connections`,
        label,
        `${t.goodput} 2xx/s`,
        `p50 ${t.p50Ms} ms, p99 ${t.p99Ms} ms` + (t.non2xx > 0 ? `; ${t.non2xx} not 2xx` : '')
      ]
    ),
    [
      '7. tracing',
      'goodput on ÷ off',
      `${x.onOverOff}`,
      `${x.exports.requests} OTLP exports, ${Math.round(x.exports.bytes / 1024)} KiB`
    ]
  ]
}

export function table (r: BenchResults): string {
  const m = r.machine
  const rows = [
    ...hotRows(r),
    ...missRows(r),
    ...otherRows(r),
    ...overloadRows(r),
    ...tracingRows(r),
    ...capacityRows(r)
  ]
  return [
    `vi-token-broker bench (${r.mode}), ${m.nproc} × ${m.cpu}, Node ${m.node}, ${r.date}`,
    '',
    '| Part | Measure | Result | Detail |',
    '| --- | --- | --- | --- |',
    ...rows.map((row) => `| ${row.join(' | ')} |`),
    '',
    '| Target | Measured | Met |',
    '| --- | --- | --- |',
    ...(r.targets ?? []).map((t) => `| ${t.target} | ${t.measured} | ${t.met ? 'yes' : 'no'} |`),
    ...(r.overload ? ['', `Overload CPU limit: ${r.overload.cpuLimit.detail}.`] : [])
  ].join('\n')
}
