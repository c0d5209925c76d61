// Property-based fuzzing (fast-check) of the id segment and the Authorization header, through
// app.inject with the HS256 test configuration for speed. Bounded: 300 runs per property.
import fc from 'fast-check'
import t from 'tap'
import { build } from '../helper.js'
import { callerToken } from '../support/tokens.js'
import { CATALOGUE, Tally } from './support/hostile.js'

const NUM_RUNS = 300
const ID = /^[A-Za-z0-9_-]{1,64}$/
const AUTH_CODES = new Set(['AUTH_REQUIRED', 'AUTH_INVALID', 'AUTH_EXPIRED', 'AUTH_NO_CALLER'])
const tally = new Tally()

/** app.inject with a hard client-side deadline. */
async function within<T> (promise: Promise<T>, what: string, ms = 10_000): Promise<T> {
  let timer: NodeJS.Timeout | undefined
  const timeout = new Promise<never>((_resolve, reject) => {
    timer = setTimeout(() => reject(new Error(`client timeout after ${ms} ms: ${what}`)), ms)
  })
  try {
    return await Promise.race([promise, timeout])
  } finally {
    clearTimeout(timer)
  }
}

function errorCodeOf (body: string): string | undefined {
  try {
    return (JSON.parse(body) as { error?: { code?: string } }).error?.code
  } catch {
    return undefined
  }
}

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
    const { app, logs } = await build(t)
    const printable = fc.string({
      unit: fc.integer({ min: 0x20, max: 0x7e }).map((c) => String.fromCharCode(c)),
      maxLength: 300
    })
    const b64urlChar = fc.constantFrom(
      ...'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_=+/'.split('')
    )
    const b64ish = fc
      .array(fc.string({ unit: b64urlChar, maxLength: 120 }), { minLength: 1, maxLength: 6 })
      .map((parts) => parts.join('.'))
    const b64 = (text: string) => Buffer.from(text).toString('base64url')
    // JWT-shaped: arbitrary JSON headers (including alg none/HS256/RS256) and payloads, random signature.
    const jwtShaped = fc
      .tuple(
        fc.record(
          {
            alg: fc.constantFrom('none', 'HS256', 'RS256', 'HS512', 'ES256', ''),
            typ: fc.constantFrom('JWT', 'at+jwt', undefined),
            kid: fc.option(printable)
          },
          { requiredKeys: ['alg'] }
        ),
        fc.record(
          { iss: fc.string(), aud: fc.string(), azp: fc.string(), exp: fc.integer(), nbf: fc.integer() },
          { requiredKeys: [] }
        ),
        fc.string({ unit: b64urlChar, maxLength: 90 })
      )
      .map(
        ([header, payload, signature]) => `${b64(JSON.stringify(header))}.${b64(JSON.stringify(payload))}.${signature}`
      )
    const scheme = fc.constantFrom('Bearer ', 'bearer ', 'BEARER ', 'Bearer  ', 'Basic ', '', 'Bearer\t')
    const values = fc.oneof(
      printable,
      b64ish.map((s) => `Bearer ${s}`),
      fc.tuple(scheme, b64ish).map(([s, v]) => s + v),
      jwtShaped.map((s) => `Bearer ${s}`),
      fc.tuple(scheme, printable).map(([s, v]) => s + v)
    )
    const codes = new Map<string, number>()
    await t.resolves(
      fc.assert(
        fc.asyncProperty(values, async (value) => {
          logs.secret(value)
          const token = value.replace(/^\S+\s+/, '')
          logs.secret(token)
          const response = await within(
            app.inject({ url: '/tokens/video/abc123', headers: { authorization: value } }),
            'authorization fuzz'
          )
          tally.see(`authorization ${JSON.stringify(value.slice(0, 60))}`, response.statusCode)
          const code = errorCodeOf(response.body)
          codes.set(`${response.statusCode} ${code}`, (codes.get(`${response.statusCode} ${code}`) ?? 0) + 1)
          if (response.statusCode !== 401 || code === undefined || !AUTH_CODES.has(code) || !CATALOGUE.has(code)) {
            throw new Error(
              `authorization ${JSON.stringify(value.slice(0, 80))}: ` +
                `expected 401 AUTH_*, got ${response.statusCode} ${code}`
            )
          }
          if (response.headers['www-authenticate'] !== 'Bearer error="invalid_token"') {
            throw new Error('401 without WWW-Authenticate')
          }
          for (const secret of [value, token]) {
            if (secret.length >= 16 && logs.raw.some((line) => line.includes(secret))) {
              throw new Error(`an offered Authorization value of ${secret.length} chars reached a log line`)
            }
          }
        }),
        { numRuns: NUM_RUNS }
      )
    )
    t.comment(`outcomes: ${[...codes].map(([k, n]) => `${k} x${n}`).join(', ')}`)
  }
)

tally.closingTest(t)
