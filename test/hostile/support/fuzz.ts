// The fuzzing shared by fuzz.test.ts (HS256) and fuzz-entra.test.ts (Entra mode): arbitrary Authorization
// values, and the property every answer to one must have.
import fc from 'fast-check'
import type { FastifyInstance } from 'fastify'
import type { Test } from 'tap'
import type { LogCapture } from '../../support/log-capture.js'
import { CATALOGUE, type Tally } from './hostile.js'

export const NUM_RUNS = 300
const AUTH_CODES = new Set(['AUTH_REQUIRED', 'AUTH_INVALID', 'AUTH_EXPIRED', 'AUTH_NO_CALLER'])

/** app.inject with a hard client-side deadline. */
export async function within<T> (promise: Promise<T>, what: string, ms = 10_000): Promise<T> {
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

export function errorCodeOf (body: string): string | undefined {
  try {
    return (JSON.parse(body) as { error?: { code?: string } }).error?.code
  } catch {
    return undefined
  }
}

/** Printable strings, base64-ish segments, JWT-shaped values with arbitrary headers and payloads, under any scheme. */
export function authorizationValues (): fc.Arbitrary<string> {
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
        {
          iss: fc.string(),
          aud: fc.string(),
          azp: fc.string(),
          exp: fc.integer(),
          nbf: fc.integer(),
          // Entra's claims too: the tenant, v1's caller claim, app roles, the version.
          tid: fc.string(),
          appid: fc.string(),
          roles: fc.array(fc.string()),
          ver: fc.constantFrom('1.0', '2.0')
        },
        { requiredKeys: [] }
      ),
      fc.string({ unit: b64urlChar, maxLength: 90 })
    )
    .map(
      ([header, payload, signature]) => `${b64(JSON.stringify(header))}.${b64(JSON.stringify(payload))}.${signature}`
    )
  const scheme = fc.constantFrom('Bearer ', 'bearer ', 'BEARER ', 'Bearer  ', 'Basic ', '', 'Bearer\t')
  return fc.oneof(
    printable,
    b64ish.map((s) => `Bearer ${s}`),
    fc.tuple(scheme, b64ish).map(([s, v]) => s + v),
    jwtShaped.map((s) => `Bearer ${s}`),
    fc.tuple(scheme, printable).map(([s, v]) => s + v)
  )
}

/**
 * Every Authorization value gets 401 with an AUTH_* catalogue code and WWW-Authenticate, never a 500, and
 * never reaches a log line. Returns the tally of outcomes.
 */
export async function assertAuthorizationFuzz (
  t: Test,
  { app, logs }: { app: FastifyInstance; logs: LogCapture },
  tally: Tally
): Promise<Map<string, number>> {
  const codes = new Map<string, number>()
  await t.resolves(
    fc.assert(
      fc.asyncProperty(authorizationValues(), async (value) => {
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
  return codes
}
