// Property-based fuzzing (fast-check) of the id segment and the Authorization header, through
// app.inject with the HS256 test configuration for speed. Bounded: 300 runs per property.
import fc from 'fast-check'
import t from 'tap'
import { build } from '../helper.js'
import { callerToken } from '../support/tokens.js'
import { assertAuthorizationFuzz, errorCodeOf, NUM_RUNS, within } from './support/fuzz.js'
import { Tally } from './support/hostile.js'

const ID = /^[A-Za-z0-9_-]{1,64}$/
const tally = new Tally()

t.test(
  'fuzz: an arbitrary id is served iff it matches ^[A-Za-z0-9_-]{1,64}$, else 400 INVALID_ID; never 500',
  async (t) => {
    const { request } = await build(t)
    const token = await callerToken('portal-bff')
    const ids = fc.oneof(
      fc.string({ unit: 'binary', minLength: 1, maxLength: 80 }),
      fc.string({ unit: 'grapheme', minLength: 1, maxLength: 24 }),
      fc.string({ unit: 'binary-ascii', minLength: 1, maxLength: 70 }),
      fc.stringMatching(/^[A-Za-z0-9_-]{1,70}$/),
      fc.stringMatching(/^[A-Za-z0-9_.~%-]{1,10}$/)
    )
    const seen = { valid: 0, invalid: 0 }
    await t.resolves(
      fc.assert(
        fc.asyncProperty(ids, async (id) => {
          const segment = encodeURIComponent(id)
          // app.inject resolves dot segments (WHATWG URL) before the broker sees them, turning these into
          // other paths; the raw '.'/'..' cases run over a socket in paths.test.ts.
          fc.pre(segment !== '.' && segment !== '..')
          const url = `/tokens/video/${segment}`
          const response = await within(request({ url, token }), url)
          tally.see(`id ${JSON.stringify(id)}`, response.statusCode)
          const code = errorCodeOf(response.body)
          if (response.statusCode === 500) throw new Error(`500 for id ${JSON.stringify(id)}`)
          if (ID.test(id)) {
            seen.valid++
            if (response.statusCode !== 200) {
              throw new Error(`id ${JSON.stringify(id)}: expected 200, got ${response.statusCode} ${code}`)
            }
            const videoId = (JSON.parse(response.body) as { videoId?: string }).videoId
            if (videoId !== id) throw new Error(`id ${JSON.stringify(id)}: served videoId ${JSON.stringify(videoId)}`)
          } else {
            seen.invalid++
            if (response.statusCode !== 400 || code !== 'INVALID_ID') {
              throw new Error(
                `id ${JSON.stringify(id)} (url ${url.slice(0, 120)}): ` +
                  `expected 400 INVALID_ID, got ${response.statusCode} ${code}`
              )
            }
          }
        }),
        { numRuns: NUM_RUNS }
      )
    )
    t.ok(seen.valid > 20 && seen.invalid > 20, `both outcomes exercised (${seen.valid} valid, ${seen.invalid} invalid)`)
  }
)

t.test(
  'fuzz: an arbitrary Authorization value always gets 401 with an AUTH_* code, never a 500, and is never logged',
  async (t) => {
    const codes = await assertAuthorizationFuzz(t, await build(t), tally)
    t.comment(`outcomes: ${[...codes].map(([k, n]) => `${k} x${n}`).join(', ')}`)
  }
)

tally.closingTest(t)
