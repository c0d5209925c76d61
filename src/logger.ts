import type { FastifyRequest } from 'fastify'
import { stdSerializers, type LoggerOptions } from 'pino'

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
  if (!(error instanceof Error)) return { type: typeof error, message: String(error) }
  const code = (error as { code?: unknown }).code
  return { type: error.name, message: error.message, ...(typeof code === 'string' ? { code } : {}) }
}
