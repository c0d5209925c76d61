import type { FastifyRequest } from 'fastify'
import { brokerError } from './errors.js'

/** The verified caller of a request in the authenticated scope. Asked for outside it, it is a bug: a 500. */
export function callerOf (request: FastifyRequest): string {
  if (request.caller === null) throw brokerError('INTERNAL_ERROR')
  return request.caller
}
