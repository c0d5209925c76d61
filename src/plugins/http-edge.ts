import type { IncomingHttpHeaders } from 'node:http'
import type { FastifyInstance } from 'fastify'
import fp from 'fastify-plugin'
import { brokerError, errorBody } from '../errors.js'
import { answeredAtHttpLayer } from './client-errors.js'

/** Headers the broker reads; Node drops any beyond its limit unseen, so a request with more is refused. */
export const MAX_HEADERS = 100
/** How often Node enforces the header and request timeouts (30 s by default, which lets a trickle last 45 s). */
const TIMEOUT_CHECK_MS = 1_000

/**
 * What the broker accepts before any route runs. Every header of a request is seen (so none, such as a
 * second Authorization, can hide past Node's limit); no GET or DELETE carries a body (they take none, and a
 * declared body is a way to hold a socket), nor a POST one over its route's limit; headers arrive within the
 * timeout; and a client that has not
 * authenticated keeps no connection after it is refused. A request whose connection Node's parser has
 * already answered with an error (see client-errors.ts) is neither served nor audited as served.
 */
export default fp(
  async function httpEdge (app: FastifyInstance, options: { headersTimeoutMs: number }) {
    const server = app.server
    server.maxHeadersCount = MAX_HEADERS
    server.headersTimeout = Math.min(options.headersTimeoutMs, server.requestTimeout)
    // Read when the server starts listening; @types/node knows it only as a createServer option.
    Object.assign(server, { connectionsCheckingInterval: TIMEOUT_CHECK_MS })

    app.addHook('onRequest', async (request, reply) => {
      // Node parses a whole packet before any hook runs: a request followed by garbage has already been
      // answered 400 and its connection closed. Nothing is minted for it.
      const answered = answeredAtHttpLayer(request.raw.socket)
      if (answered) throw answered
      // Node keeps a few headers past its limit, so more than the limit means some may be missing.
      if (request.raw.rawHeaders.length / 2 > MAX_HEADERS) {
        reply.header('connection', 'close')
        throw brokerError('HEADERS_TOO_LARGE')
      }
      // Other methods have no route: they get 404, and the connection is closed with it (onSend below).
      // Each is answered before the body is read; closing the connection drops whatever of it is still coming.
      if ((request.method === 'GET' || request.method === 'DELETE') && declaresBody(request.headers)) {
        reply.header('connection', 'close')
        throw brokerError('BODY_NOT_ALLOWED')
      }
      // POST /tokens/batch: a declared length over the limit is refused before the caller is verified.
      const { bodyLimit } = request.routeOptions
      if (request.method === 'POST' && !request.is404 && declaredLength(request.headers) > bodyLimit) {
        reply.header('connection', 'close')
        throw brokerError('BODY_TOO_LARGE')
      }
    })
    app.addHook('onSend', async (request, reply, payload) => {
      const answered = answeredAtHttpLayer(request.raw.socket)
      if (answered && request.answeredError !== answered) {
        // Rejected at the HTTP layer while under way: the response is never sent, so the audit record
        // (written after this hook) states what the client did get, and no token.
        request.issued = null
        request.answeredError = answered
        reply.code(answered.statusCode)
        return JSON.stringify(errorBody(answered))
      }
      if (reply.statusCode >= 400 && !request.caller) reply.header('connection', 'close')
      return payload
    })
  },
  { name: 'http-edge', dependencies: ['authenticate'] }
)

function declaredLength (headers: IncomingHttpHeaders): number {
  return Number(headers['content-length'] ?? 0)
}

function declaresBody (headers: IncomingHttpHeaders): boolean {
  const length = headers['content-length']
  return headers['transfer-encoding'] !== undefined || (length !== undefined && length !== '0')
}
