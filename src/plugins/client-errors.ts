import { STATUS_CODES } from 'node:http'
import type { Socket } from 'node:net'
import { brokerError, errorBody, type BrokerError, type ErrorCode } from '../errors.js'

const ANSWERED = Symbol('answered by the client-error handler')
type AnsweredSocket = Socket & { [ANSWERED]?: BrokerError }

/**
 * What the client-error handler sent on this connection, if anything. A request already under way on it
 * (a valid GET with garbage pipelined behind it) never reaches the client: this is what the client got.
 */
export function answeredAtHttpLayer (socket: Socket): BrokerError | undefined {
  return (socket as AnsweredSocket)[ANSWERED]
}

/**
 * Requests Node rejects before Fastify sees them (oversized headers, malformed HTTP, slow clients)
 * still get the ErrorResponse shape. Used as Fastify's clientErrorHandler.
 */
export function clientErrorHandler (error: Error & { code?: string }, socket: Socket): void {
  if (error.code === 'ECONNRESET' || socket.destroyed) return
  const code: ErrorCode =
    error.code === 'HPE_HEADER_OVERFLOW'
      ? 'HEADERS_TOO_LARGE'
      : error.code === 'ERR_HTTP_REQUEST_TIMEOUT'
        ? 'REQUEST_TIMEOUT'
        : 'INVALID_REQUEST'
  const answer = brokerError(code)
  ;(socket as AnsweredSocket)[ANSWERED] = answer
  const { statusCode } = answer
  const body = JSON.stringify(errorBody(answer))
  if (socket.writable) {
    socket.write(
      `HTTP/1.1 ${statusCode} ${STATUS_CODES[statusCode]}\r\nContent-Type: application/json\r\n` +
        `Content-Length: ${Buffer.byteLength(body)}\r\nConnection: close\r\n\r\n${body}`
    )
  }
  socket.destroy()
}
