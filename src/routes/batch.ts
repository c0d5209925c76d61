import { randomUUID } from 'node:crypto'
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify'
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox'
import { Type } from 'typebox'
import type {} from '@fastify/rate-limit'
import { batchBodyLimit, parseBatch, type BatchItem } from '../batch.js'
import { brokerError, errorBody, type BrokerError, type ErrorCode } from '../errors.js'
import type { Outcome } from '../plugins/audit-trail.js'
import { logFailure, toBrokerError } from '../plugins/error-handler.js'
import { BEARER_SECURITY, batchRequest, batchResponse, errorResponse, UNAUTHENTICATED_RESPONSE } from '../schemas.js'
import type { Issuer, TokenBody } from './issue.js'
import { ACCOUNT_BASES, COMMON_RESPONSES } from './tokens.js'

export interface BatchRoutesOptions {
  issuer: Issuer
  /** BATCH_MAX_ITEMS. */
  maxItems: number
}

/** What an item of a batch can be answered with: what its own request could, less what answers the whole batch. */
const ITEM_CODES: ErrorCode[] = [
  'POLICY_DENIED',
  'RATE_LIMITED',
  'MINT_BUDGET_EXCEEDED',
  'ARM_ERROR',
  'ARM_THROTTLED',
  'ARM_UNAVAILABLE',
  'IDENTITY_UNAVAILABLE',
  'ARM_TIMEOUT',
  'INTERNAL_ERROR'
]

type ItemAnswer = ({ status: 200 } & TokenBody) | { status: number; error: ReturnType<typeof errorBody>['error'] }

/**
 * POST /tokens/batch (default account) and /accounts/{alias}/tokens/batch: many token requests in one body,
 * each answered as its own request would be. Each item is rate limited, authorised, counted and audited as a
 * request of its own (audit-trail.ts writes the records of request.batch); all items start at once, so they
 * mint concurrently, within ARM_MAX_CONCURRENCY and their shared ARM_TIMEOUT_MS deadline, and duplicates join
 * one mint.
 */
export default async function batchRoutes (parent: FastifyInstance, options: BatchRoutesOptions) {
  const app = parent.withTypeProvider<TypeBoxTypeProvider>()
  const { issuer, maxItems } = options
  // The caller routes' own limiter and counters: an item costs what a single request costs.
  const rateLimit = app.createRateLimit()

  // The only body the broker reads: JSON, within a limit sized for BATCH_MAX_ITEMS items. Any other type is 415.
  app.removeAllContentTypeParsers()
  const parseJson = app.getDefaultJsonParser('error', 'error') as unknown as (
    request: FastifyRequest,
    body: string,
    done: (error: Error | null, value?: unknown) => void
  ) => void
  app.addContentTypeParser('application/json', { parseAs: 'string' }, (request, body, done) => {
    parseJson(request, body as string, (error, value) =>
      error
        ? done(brokerError('INVALID_BATCH', { args: ['the body is not JSON'], cause: error }), undefined)
        : done(null, value))
  })

  // Fastify's own refusals of a body get this route's codes; the broker's error handler then writes them.
  app.setErrorHandler((error) => {
    const { code } = error as { code?: string }
    if (code === 'FST_ERR_CTP_BODY_TOO_LARGE') throw brokerError('BODY_TOO_LARGE', { cause: error })
    if (code === 'FST_ERR_CTP_INVALID_MEDIA_TYPE') throw brokerError('UNSUPPORTED_MEDIA_TYPE', { cause: error })
    throw error
  })

  for (const base of ACCOUNT_BASES) {
    app.post(
    `${base.prefix}/tokens/batch`,
    {
      bodyLimit: batchBodyLimit(maxItems),
      // Each item is charged to the caller's rate limit, not the batch (see answer below).
      config: { batch: true, rateLimit: false },
      // parseBatch reads the body, naming the bad item; the body schema documents it.
      validatorCompiler: () => () => true,
      schema: {
        tags: ['tokens'],
        summary: `Get many tokens of ${base.of} at once`,
        description:
          `Up to BATCH_MAX_ITEMS (here ${maxItems}) token requests, each answered in its slot, in order, with ` +
          'the status and body its own GET would have had. Each item is authorised, rate limited and audited ' +
          'as a request of its own; duplicates share one mint. A fault in any item refuses the whole batch ' +
          '(400 INVALID_BATCH, naming the item).',
        security: BEARER_SECURITY,
        ...(base.prefix ? { params: Type.Object(base.params) } : {}),
        body: batchRequest(maxItems),
        response: {
          200: batchResponse(ITEM_CODES),
          400: errorResponse(
            ['INVALID_BATCH', 'INVALID_REQUEST'],
            'The body is not a valid batch; the message names the first bad item'
          ),
          401: UNAUTHENTICATED_RESPONSE,
          413: errorResponse(['BODY_TOO_LARGE'], 'The body is larger than a batch of BATCH_MAX_ITEMS requests'),
          ...base.responses,
          415: errorResponse(['UNSUPPORTED_MEDIA_TYPE'], 'The body is not application/json'),
          429: COMMON_RESPONSES[429],
          503: errorResponse(
            ['JWKS_UNAVAILABLE', 'AUDIT_UNAVAILABLE', 'OVERLOADED'],
            'The broker cannot verify callers, cannot audit or is overloaded; retry after Retry-After seconds'
          )
        }
      }
    },
    answer
    )
  }

  async function answer (request: FastifyRequest, reply: FastifyReply) {
    // An alias that names no account refuses the whole batch.
    issuer.accountOf(request)
    let items: BatchItem[]
    try {
      items = parseBatch(request.body, maxItems)
    } catch (error) {
      // A batch refused as a whole costs one request, as a refused single request does.
      const limited = await charge(request)
      throw limited ?? error
    }
    // In request order, one at a time: the first items within the limit are served. (The local store also
    // hands concurrent increments one shared counter object, so they must not overlap.)
    const limits: Array<BrokerError | undefined> = []
    for (let index = 0; index < items.length; index++) limits.push(await charge(request))
    const answered = await Promise.all(items.map((item, index) => answerItem(request, item, limits[index])))
    const id = randomUUID()
    request.batch = { id, items: answered.map(({ outcome }) => outcome) }
    reply.header('cache-control', 'no-store').header('pragma', 'no-cache')
    return { batchId: id, results: answered.map(({ result }) => result) }
  }

  async function answerItem (
    request: FastifyRequest,
    { scope, id }: BatchItem,
    limited: BrokerError | undefined
  ): Promise<{ outcome: Outcome; result: ItemAnswer }> {
    try {
      if (limited) throw limited
      const { result, body } = await issuer.issue(request, scope, id)
      return {
        outcome: { scope, resourceId: id, status: 200, error: null, issued: result },
        result: { status: 200, ...body }
      }
    } catch (thrown) {
      const error = toBrokerError(thrown)
      logFailure(request, thrown, error)
      const { retryAfterSeconds } = error
      return {
        outcome: { scope, resourceId: id, status: error.statusCode, error, issued: null },
        result: {
          status: error.statusCode,
          error: errorBody(error).error,
          ...(retryAfterSeconds === undefined ? {} : { retryAfterSeconds })
        }
      }
    }
  }

  /** Spends one request of the caller's limit: the RATE_LIMITED error when it is over, else undefined. */
  async function charge (request: FastifyRequest): Promise<BrokerError | undefined> {
    const limit = await rateLimit(request)
    /* c8 ignore next: createRateLimit allows without counting only for an allowList, which the broker has none of */
    if (limit.isAllowed) return undefined
    return limit.isExceeded ? brokerError('RATE_LIMITED', { retryAfterSeconds: limit.ttlInSeconds }) : undefined
  }
}
