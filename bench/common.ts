// Shared by the bench (bench/run.ts, bench/parts/) and its child processes (bench/server.ts, bench/memory-fill.ts).
import { SignJWT } from 'jose'

export const ISSUER = 'https://login.emulator.local/vi-token-broker/v2.0'
export const AUDIENCE = 'api://vi-token-broker'
export const HS256_SECRET = 'bench-hs256-secret-that-is-at-least-32-bytes'
export const AUDIT_HMAC_KEY = 'bench-audit-hmac-key-0123456789abcdef0123'
export const CALLER_COUNT = 20

export const callerName = (index: number) => `bench-caller-${String(index + 1).padStart(2, '0')}`

/**
 * 20 callers allowed any video, with a limit far above anything the bench sends
 * (the default, 600/min, would cap it).
 */
export function benchPolicy () {
  const callers: Record<string, unknown> = {}
  for (let i = 0; i < CALLER_COUNT; i++) {
    callers[callerName(i)] = { allow: [{ scope: 'video' }], rateLimit: { max: 1_000_000, timeWindow: 1000 } }
  }
  return { callers }
}

/** An HS256 caller JWT with the same claims as the emulator's RS256 ones. */
export async function hs256CallerToken (caller: string, lifetimeSeconds = 3600): Promise<string> {
  const iat = Math.floor(Date.now() / 1000)
  return new SignJWT({
    iss: ISSUER,
    aud: AUDIENCE,
    sub: caller,
    azp: caller,
    iat,
    nbf: iat,
    exp: iat + lifetimeSeconds
  })
    .setProtectedHeader({ alg: 'HS256', typ: 'JWT' })
    .sign(new TextEncoder().encode(HS256_SECRET))
}

/**
 * Epoch-ms clock that runs at real speed until start(speedup), then `speedup` times faster.
 * Based on performance.timeOrigin + performance.now(), so another process can compute the same
 * fake time from the same (realStart, fakeStart, speedup).
 */
export function createFakeClock () {
  let realStart = 0
  let fakeStart = 0
  let speedup = 1
  const realNow = () => performance.timeOrigin + performance.now()
  return {
    now (): number {
      return speedup === 1 ? realNow() : fakeStart + (realNow() - realStart) * speedup
    },
    start (factor: number) {
      realStart = realNow()
      fakeStart = realStart
      speedup = factor
      return { realStart, fakeStart, speedup }
    }
  }
}

export function fakeTimeAt (
  realEpochMs: number,
  clock: { realStart: number; fakeStart: number; speedup: number }
): number {
  return clock.fakeStart + (realEpochMs - clock.realStart) * clock.speedup
}

/** Messages between the bench (bench/server-ipc.ts) and bench/server.ts over the IPC channel. */
export type ServerRole = 'broker' | 'bare' | 'bare-jwt'

export interface ServerArgs {
  role: ServerRole
  auth: 'hs256' | 'jwks'
  /** broker: the audit log (and every other log line) goes to this file, through pino.destination. */
  logFile?: string
  /** bare, bare-jwt: the JSON body to answer with (the broker's own response body). */
  body?: unknown
  /** bare-jwt in jwks mode: where the broker's JWKS is. */
  jwksUri?: string
  /** broker: run the broker and the emulator on a fake clock (started by a 'start-clock' message). */
  fakeClock?: boolean
  refreshAheadSeconds?: number
  identityTokenLifetimeSeconds?: number
  /** broker: tracing on, every span exported over OTLP/HTTP to a collector in the same process. */
  tracing?: boolean
}

/** The 'arm-target' command's answer: what a client needs to call the emulated ARM itself. */
export interface ArmTarget {
  url: string
  caCertPem: string
  identityEndpoint: string
  identityHeader: string
}

export interface Percentiles {
  p50: number
  p99: number
  mean: number
  n: number
}

export function percentiles (samples: number[]): Percentiles {
  const sorted = [...samples].sort((a, b) => a - b)
  const at = (q: number) => sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil(q * sorted.length) - 1))] as number
  const mean = sorted.reduce((sum, value) => sum + value, 0) / Math.max(1, sorted.length)
  return { p50: at(0.5), p99: at(0.99), mean, n: sorted.length }
}

export function median (values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b)
  const mid = Math.floor(sorted.length / 2)
  return sorted.length % 2 === 1 ? (sorted[mid] as number) : ((sorted[mid - 1] as number) + (sorted[mid] as number)) / 2
}

/** Adds `n` to counts[key]. */
export function tally (counts: Record<string, number>, key: string, n = 1): void {
  counts[key] = (counts[key] ?? 0) + n
}

/** Small seeded PRNG, so every run replays the same requests. */
export function mulberry32 (seed: number) {
  return () => {
    seed = (seed + 0x6d2b79f5) | 0
    let t = Math.imul(seed ^ (seed >>> 15), 1 | seed)
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296
  }
}

export const round = (value: number, digits = 2) => Math.round(value * 10 ** digits) / 10 ** digits
export const log = (text: string) => process.stderr.write(`[bench] ${text}\n`)

/** Every bench request stays on loopback: a proxy in the environment would intercept it. */
export const NO_PROXY_ENV = {
  HTTP_PROXY: '',
  HTTPS_PROXY: '',
  http_proxy: '',
  https_proxy: '',
  NO_PROXY: '127.0.0.1,localhost'
}
