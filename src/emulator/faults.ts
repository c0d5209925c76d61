import { setTimeout as delay } from 'node:timers/promises'
import type { FastifyReply, FastifyRequest } from 'fastify'
import { codeForStatus } from './arm-errors.js'

export interface Fault {
  latencyMs?: number
  status?: number
  retryAfterSeconds?: number
  body?: unknown
  hang?: boolean
  reset?: boolean
  rate?: number
  count?: number
}

export type FaultTarget = 'arm' | 'identity' | 'jwks'

export const FAULT_TARGETS: readonly FaultTarget[] = ['arm', 'identity', 'jwks']

export function isFaultTarget (value: unknown): value is FaultTarget {
  return FAULT_TARGETS.includes(value as FaultTarget)
}

export class InvalidFaultError extends TypeError {
  override name = 'InvalidFaultError'
}

type FaultHook = (request: FastifyRequest, reply: FastifyReply) => Promise<FastifyReply | undefined>

export interface Faults {
  set(target: FaultTarget, fault: Fault | null): void
  reset(): void
  /** An onRequest hook that applies the target's fault, if any, before normal handling. */
  hook(target: FaultTarget): FaultHook
  /** Abandons pending latencies so that shutdown is not held up by them. */
  close(): void
}

const FAULT_KEYS = new Set(['latencyMs', 'status', 'retryAfterSeconds', 'body', 'hang', 'reset', 'rate', 'count'])

function check (condition: boolean, message: string): asserts condition {
  if (!condition) throw new InvalidFaultError(message)
}

const isOptionalNumber = (value: unknown, min: number, max: number, integer: boolean) =>
  value === undefined ||
  (typeof value === 'number' &&
    Number.isFinite(value) &&
    value >= min &&
    value <= max &&
    (!integer || Number.isInteger(value)))

/** Validates a fault from the admin API or from code; throws InvalidFaultError with a reason. */
export function parseFault (value: unknown): Fault {
  check(typeof value === 'object' && value !== null && !Array.isArray(value), 'a fault must be a JSON object')
  const fault = value as Record<string, unknown>
  const unknownKey = Object.keys(fault).find((key) => !FAULT_KEYS.has(key))
  check(unknownKey === undefined, `unknown fault property '${unknownKey}'`)
  check(isOptionalNumber(fault.latencyMs, 0, 600_000, false), 'latencyMs must be a number from 0 to 600000')
  check(isOptionalNumber(fault.status, 200, 599, true), 'status must be an integer HTTP status from 200 to 599')
  check(
    isOptionalNumber(fault.retryAfterSeconds, 0, 86_400, true),
    'retryAfterSeconds must be an integer from 0 to 86400'
  )
  check(isOptionalNumber(fault.rate, 0, 1, false), 'rate must be a number from 0 to 1')
  check(isOptionalNumber(fault.count, 1, Number.MAX_SAFE_INTEGER, true), 'count must be a positive integer')
  check(fault.hang === undefined || typeof fault.hang === 'boolean', 'hang must be a boolean')
  check(fault.reset === undefined || typeof fault.reset === 'boolean', 'reset must be a boolean')
  const outcomes = [fault.status !== undefined, fault.hang === true, fault.reset === true].filter(Boolean).length
  check(outcomes <= 1, 'status, hang and reset exclude each other')
  check(
    fault.status !== undefined || (fault.body === undefined && fault.retryAfterSeconds === undefined),
    'body and retryAfterSeconds need status'
  )
  check(
    outcomes === 1 || (typeof fault.latencyMs === 'number' && fault.latencyMs > 0),
    'a fault needs latencyMs, status, hang or reset'
  )
  return { ...fault } as Fault
}

export function createFaults (random: () => number = Math.random): Faults {
  const active = new Map<FaultTarget, { fault: Fault; remaining: number }>()
  const closing = new AbortController()

  function take (target: FaultTarget): Fault | undefined {
    const entry = active.get(target)
    if (!entry || random() >= (entry.fault.rate ?? 1)) return undefined
    entry.remaining -= 1
    if (entry.remaining <= 0) active.delete(target)
    return entry.fault
  }

  return {
    set (target, fault) {
      if (!isFaultTarget(target)) throw new InvalidFaultError(`unknown fault target '${String(target)}'`)
      if (fault === null) active.delete(target)
      else {
        const parsed = parseFault(fault)
        active.set(target, { fault: parsed, remaining: parsed.count ?? Infinity })
      }
    },
    reset () {
      active.clear()
    },
    close () {
      closing.abort()
    },
    hook (target) {
      return async (request, reply) => {
        const fault = take(target)
        if (!fault) return undefined
        if (fault.latencyMs) {
          try {
            await delay(fault.latencyMs, undefined, { signal: closing.signal })
          } catch {
            return reply.hijack()
          }
        }
        if (fault.hang) return reply.hijack()
        if (fault.reset) {
          reply.hijack()
          request.raw.socket.destroy()
          return reply
        }
        if (fault.status === undefined) return undefined
        if (fault.retryAfterSeconds !== undefined) reply.header('retry-after', String(fault.retryAfterSeconds))
        const body = fault.body ?? {
          error: { code: codeForStatus(fault.status), message: 'The emulator injected this fault.' }
        }
        return reply.code(fault.status).send(body)
      }
    }
  }
}
