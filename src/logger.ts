import type { FastifyRequest } from 'fastify'
import { stdSerializers, type LoggerOptions } from 'pino'
import { isBrokerError } from './errors.js'

/**
 * Tokens must never reach a log line. Requests are logged without headers or query strings,
 * and these paths are censored wherever they appear, as a second line of defence.
 */
export const REDACTED_PATHS = [
  'req.headers.authorization',
  'headers.authorization',
  'authorization',
  'accessToken',
  '*.accessToken',
  'token',
  '*.token'
]

export function loggerOptions (level: string): LoggerOptions {
  return {
    level,
    redact: { paths: REDACTED_PATHS, censor: '[redacted]' },
    serializers: {
      req: (request: FastifyRequest) => ({
        method: request.method,
        path: request.url.split('?', 1)[0],
        remoteAddress: request.ip
      }),
      err: stdSerializers.err
    }
  }
}

/**
 * An expected fault (Redis down, a value that fails to open, an upstream refusal) for the `err`
 * field of a warn line: its type, code and message, without the stack trace that marks a bug.
 */
export function expectedFault (error: unknown): { type: string; message: string; code?: string } {
  /* c8 ignore next: callers log what a rejected promise held, which in this code base is always an Error */
  if (!(error instanceof Error)) return { type: typeof error, message: String(error) }
  const code = (error as { code?: unknown }).code
  return { type: error.name, message: error.message, ...(typeof code === 'string' ? { code } : {}) }
}

/** JavaScript's own errors for code that is wrong, rather than a world that is. */
const BUG_TYPES = [TypeError, ReferenceError, RangeError, SyntaxError]

/** True for a bug: INTERNAL_ERROR, one of JavaScript's own errors, or anything thrown that is not an Error. */
export function isBug (error: unknown): boolean {
  if (!(error instanceof Error)) return true
  if (BUG_TYPES.some((type) => error instanceof type)) return true
  return isBrokerError(error) && (error.code === 'INTERNAL_ERROR' || (error.cause !== undefined && isBug(error.cause)))
}

/**
 * How to log a fault. An expected one (ARM throttling, failing or slow, an identity or JWKS outage) is a
 * warn line with its code and what went wrong, and no stack trace; a stack trace is for bugs (error, err).
 */
export function faultLog (error: unknown): { level: 'warn' | 'error'; fields: Record<string, unknown> } {
  if (isBug(error)) return { level: 'error', fields: { err: error } }
  const fault = error as Error & { code?: unknown; upstream?: unknown }
  const cause = fault.cause instanceof Error ? fault.cause.message : undefined
  const fields: Record<string, unknown> = { code: fault.code, problem: isBrokerError(fault) ? cause : fault.message }
  if (fault.upstream !== undefined) fields.upstream = fault.upstream
  return { level: 'warn', fields }
}
