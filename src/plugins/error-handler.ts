import type { FastifyError, FastifyInstance, FastifyReply, FastifyRequest } from 'fastify'
import fp from 'fastify-plugin'
import { brokerError, errorBody, isBrokerError, type BrokerError } from '../errors.js'
import { faultLog } from '../logger.js'

export const WWW_AUTHENTICATE = 'Bearer error="invalid_token"'

/** Maps anything thrown to a catalogued error; unexpected errors become INTERNAL_ERROR. */
export function toBrokerError (error: unknown): BrokerError {
  if (isBrokerError(error)) return error
  const fastifyError = error as Partial<FastifyError>
  // Route schemas validate path parameters, which are ids, and the operator routes' query strings.
  if (fastifyError.validation !== undefined) {
    const code = fastifyError.validationContext === 'querystring' ? 'INVALID_QUERY' : 'INVALID_ID'
    return brokerError(code, { cause: error })
  }
  // Fastify's own client errors, such as a Content-Type header that is not a media type.
  if (typeof fastifyError.statusCode === 'number' && fastifyError.statusCode < 500) {
    return brokerError('INVALID_REQUEST', { cause: error })
  }
  return brokerError('INTERNAL_ERROR', { cause: error })
}

/** Writes a catalogued error as the response: status, headers and the ErrorResponse body. */
export function sendError (request: FastifyRequest, reply: FastifyReply, error: BrokerError) {
  request.answeredError = error
  if (error.statusCode === 401) reply.header('www-authenticate', WWW_AUTHENTICATE)
  if (error.retryAfterSeconds !== undefined) reply.header('retry-after', String(error.retryAfterSeconds))
  return reply.code(error.statusCode).send(errorBody(error))
}

/** The log line of a failed request, or of a failed item of a batch: `mapped` is toBrokerError(error). */
export function logFailure (request: FastifyRequest, error: unknown, mapped: BrokerError): void {
  if (mapped.code === 'OVERLOADED') {
    // Shed requests are audited and counted; a log line each would add to the overload.
  } else if (mapped.statusCode >= 500) {
    const { level, fields } = faultLog(mapped)
    request.log[level](level === 'error' ? { err: error, code: mapped.code } : fields, 'request failed')
  } else {
    request.log.debug({ code: mapped.code, reason: (error as Error).message }, 'request rejected')
  }
}

/** One error handler and one not-found handler write every error body. */
export default fp(
  async function errorHandler (app: FastifyInstance) {
    app.decorateRequest('answeredError', null)
    app.setErrorHandler((error, request, reply) => {
      const mapped = toBrokerError(error)
      logFailure(request, error, mapped)
      // The body was not read: closing the connection drops whatever of it is still coming.
      if (mapped.code === 'BODY_TOO_LARGE' || mapped.code === 'UNSUPPORTED_MEDIA_TYPE') {
        reply.header('connection', 'close')
      }
      return sendError(request, reply, mapped)
    })
    app.setNotFoundHandler((request, reply) => sendError(request, reply, brokerError('NOT_FOUND')))
  },
  { name: 'error-handler' }
)

declare module 'fastify' {
  interface FastifyRequest {
    /** The catalogued error answered (its code, reason and upstream facts), for the audit record. */
    answeredError: BrokerError | null
  }
}
