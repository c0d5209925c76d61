import type { FastifyError, FastifyInstance, FastifyReply, FastifyRequest } from 'fastify'
import fp from 'fastify-plugin'
import { brokerError, isBrokerError, type BrokerError } from '../errors.js'

export const WWW_AUTHENTICATE = 'Bearer error="invalid_token"'

/** Maps anything thrown to a catalogued error; unexpected errors become INTERNAL_ERROR. */
export function toBrokerError(error: unknown): BrokerError {
  if (isBrokerError(error)) return error
  const fastifyError = error as Partial<FastifyError>
  if (fastifyError.validation !== undefined) {
    const code = fastifyError.validationContext === 'params' ? 'INVALID_ID' : 'INVALID_REQUEST'
    return brokerError(code, { cause: error })
  }
  const status = fastifyError.statusCode
  if (typeof status === 'number' && status >= 400 && status < 500) {
    // Fastify's own client errors (bad content type, body too large, ...): keep the status, use one code.
    return Object.assign(brokerError('INVALID_REQUEST', { cause: error }), {
      statusCode: status,
      details: [{ code: String(fastifyError.code ?? 'BAD_REQUEST'), message: String(fastifyError.message) }]
    })
  }
  return brokerError('INTERNAL_ERROR', { cause: error })
}

function send(request: FastifyRequest, reply: FastifyReply, error: BrokerError) {
  request.errorCode = error.code
  if (error.statusCode === 401) reply.header('www-authenticate', WWW_AUTHENTICATE)
  if (error.retryAfterSeconds !== undefined) reply.header('retry-after', String(error.retryAfterSeconds))
  const body: { code: string; message: string; details?: BrokerError['details'] } = {
    code: error.code,
    message: error.message
  }
  if (error.details !== undefined) body.details = error.details
  return reply.code(error.statusCode).send({ error: body })
}

/** One error handler and one not-found handler write every error body. */
export default fp(
  async function errorHandler(app: FastifyInstance) {
    app.decorateRequest('errorCode', null)
    app.setErrorHandler((error, request, reply) => {
      const mapped = toBrokerError(error)
      if (mapped.statusCode >= 500) {
        request.log.error({ err: error, code: mapped.code, upstream: mapped.upstream }, 'request failed')
      } else {
        request.log.debug({ code: mapped.code, reason: (error as Error).message }, 'request rejected')
      }
      return send(request, reply, mapped)
    })
    app.setNotFoundHandler((request, reply) => send(request, reply, brokerError('NOT_FOUND')))
  },
  { name: 'error-handler' }
)

declare module 'fastify' {
  interface FastifyRequest {
    /** The catalogue code of the error answered, for the audit record. */
    errorCode: string | null
  }
}
