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
