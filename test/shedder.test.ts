import t from 'tap'
import { createShedder, MAX_SHED_PROBABILITY, type ShedderState } from '../src/shedder.js'

const TARGET = 50
const INTERVAL = 100

/** A shedder fed probe lags every 10 ms of a fake monotonic clock. */
function fed (random = () => 0.5) {
  const states: ShedderState[] = []
  const shedder = createShedder({
    targetDelayMs: TARGET,
    intervalMs: INTERVAL,
    random,
    onInterval: (state) => states.push(state)
  })
  let now = 0
  return {
    shedder,
    states,
    /** Probes for `ms` milliseconds, each `lagMs` late. */
    run (ms: number, lagMs: number) {
      for (const end = now + ms; now < end;) {
        now += 10 + lagMs
        shedder.observe(now, lagMs)
      }
    },
    /** Probes, each `lagMs` late, until `count` more intervals have closed. */
    intervals (count: number, lagMs: number) {
      for (const end = states.length + count; states.length < end;) {
        now += 10 + lagMs
        shedder.observe(now, lagMs)
      }
    }
  }
}

t.test('a loop that turns around quickly never sheds, however busy', async (t) => {
  const { shedder, run, states } = fed(() => 0)
  run(10_000, 5)
  t.ok(states.length > 50)
  t.equal(Math.max(...states.map((s) => s.probability)), 0)
  t.notOk(shedder.shed())
})

t.test('a loop frozen by a CPU quota for most of each period, but prompt while it runs, never sheds', async (t) => {
  // As under a cgroup CPU limit at full use: each 100 ms period, one probe waits out the freeze, the next is
  // prompt. The mean lag (61 ms) is over the target; no request waits behind a standing queue.
  const { shedder, states } = fed(() => 0)
  let now = 0
  for (let period = 0; period < 100; period++) {
    now += 120
    shedder.observe(now, 120)
    now += 12
    shedder.observe(now, 2)
  }
  t.ok(states.length > 40)
  t.equal(Math.max(...states.map((s) => s.probability)), 0)
})

t.test('one long stall (a GC pause, a descheduled process) sheds nothing', async (t) => {
  const { run, states } = fed()
  run(1_000, 1)
  run(1, 400)
  run(1_000, 1)
  t.equal(Math.max(...states.map((s) => s.probability)), 0)
})

t.test('a standing delay sheds a share that rises with how far it is over the target', async (t) => {
  // The first interval of a delay never counts (one interval may be a single stall).
  const slightly = fed()
  slightly.intervals(3, 60)
  const far = fed()
  far.intervals(3, 100)
  const pSlightly = slightly.shedder.state().probability
  const pFar = far.shedder.state().probability
  t.ok(pSlightly > 0, `20% over the target sheds a little (${pSlightly})`)
  t.ok(pFar > pSlightly * 4, `100% over sheds five times as much (${pFar})`)
  t.ok(pFar < MAX_SHED_PROBABILITY, 'a share, not everything')
  slightly.run(2_000, 60)
  t.ok(slightly.shedder.state().probability > pSlightly, 'and keeps rising while the delay stands')
})

t.test('the share is capped: some requests always get through', async (t) => {
  const { shedder, run } = fed(() => 0.97)
  run(5_000, 1_000)
  t.equal(shedder.state().probability, MAX_SHED_PROBABILITY)
  t.notOk(shedder.shed(), 'a draw above the cap is served')
})

t.test('shedding stops within about half a second once the delay is gone', async (t) => {
  const { shedder, run } = fed(() => 0)
  run(2_000, 300)
  t.equal(shedder.state().probability, MAX_SHED_PROBABILITY)
  t.ok(shedder.shed())
  run(500, 1)
  t.equal(shedder.state().probability, 0)
  t.notOk(shedder.shed())
})

t.test('the shed decision draws against the probability', async (t) => {
  let draw = 0.1
  const { shedder, intervals } = fed(() => draw)
  intervals(3, 75)
  const p = shedder.state().probability
  t.ok(p > 0.1 && p < 0.9, `a middling share (${p})`)
  t.ok(shedder.shed(), 'a draw under it is shed')
  draw = 0.9
  t.notOk(shedder.shed(), 'a draw over it is served')
})
