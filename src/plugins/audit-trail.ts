import type { FastifyContextConfig, FastifyInstance, FastifyReply, FastifyRequest } from 'fastify'
import fp from 'fastify-plugin'
import { decisionFor, type AuditRecord, type Auditor } from '../audit.js'
import type { Clock } from '../clock.js'
import { brokerError, errorBody, type BrokerError } from '../errors.js'
import type { Metrics } from '../metrics.js'
import type { Policy } from '../policy.js'
import type { Scope } from '../scope.js'
import type { CacheResult } from '../token-cache.js'
import type { Accounts } from '../accounts.js'
import type { Account } from '../token-source.js'
import type { Tracing } from '../tracing.js'

export interface AuditTrailOptions {
  auditor: Auditor
  accounts: () => Accounts
  policy: () => Policy
  metrics: Pick<Metrics, 'requests' | 'evictions' | 'cache' | 'servedTokenLife'>
  clock: Clock
  /** When tracing is on: the record carries the trace id, and the server span the record's key fields. */
  tracing?: Tracing | undefined
}

const MAX_AUDITED_TEXT = 256

/**
 * One audit record and one count per request in the scope it is registered in, gathered here and
 * nowhere else. The record is written before the response leaves: if it cannot be, no token is sent.
 */
export default fp(
  async function auditTrail (app: FastifyInstance, options: AuditTrailOptions) {
    app.decorateRequest('issued', null)
    app.decorateRequest('batch', null)
    app.decorateRequest('account', null)
    app.addHook('onSend', auditStep(options))
  },
  { name: 'audit-trail', dependencies: ['error-handler'] }
)

/** Paths of the caller routes: a request to one is audited even when its URL cannot be decoded. */
export const CALLER_PATH = /^\/(tokens|cache|embed|accounts)(\/|\?|$)/i

/**
 * Answers a request that reached no route (its URL cannot be decoded) with `error`, audited as the
 * caller routes' requests are: the record is written before the answer leaves.
 */
export function unroutedAudit (options: AuditTrailOptions) {
  const audit = auditStep(options)
  return async (request: FastifyRequest, reply: FastifyReply, error: BrokerError) => {
    request.answeredError = error
    reply.code(error.statusCode).header('content-type', 'application/json; charset=utf-8')
    return reply.send(await audit(request, reply, JSON.stringify(errorBody(error))))
  }
}

/**
 * What one token request came to: a request of its own, or one item of a batch. Both are counted and
 * recorded by the same code (auditStep), so an item's record is a request's record plus its batch.
 */
export interface Outcome {
  scope: Scope | undefined
  resourceId: string | undefined
  status: number
  error: BrokerError | null
  issued: CacheResult | null
}

/** The items of a batch answered 200, each with its own outcome; set by the batch route for its records. */
export interface BatchOutcomes {
  id: string
  items: Outcome[]
}

/**
 * Counts the request (or each item of a batch answered 200), writes its records and passes the payload
 * on, or withholds it when a record fails.
 */
function auditStep (options: AuditTrailOptions) {
  const { auditor, accounts, policy, metrics, clock, tracing } = options
  return async function audit (request: FastifyRequest, reply: FastifyReply, payload: unknown) {
    const known = request.caller !== null && policy().isKnown(request.caller)
    const caller = request.caller === null ? 'anonymous' : known ? request.caller : 'unknown'
    const batch = reply.statusCode === 200 ? request.batch : null
    const outcomes = batch ? batch.items : [outcomeOf(request, reply)]
    const account = accountOfRecord(request)
    const records = outcomes.map((outcome, index) => {
      count(request, caller, outcome, account)
      return auditRecord(request, reply, outcome, account, batch ? { id: batch.id, item: index } : undefined)
    })
    if (tracing && !batch) annotate(tracing, request, records[0] as AuditRecord)
    try {
      await Promise.all(records.map((record) => auditor.write(record)))
      return payload
    } catch (error) {
      const failure = brokerError('AUDIT_UNAVAILABLE', { retryAfterSeconds: 5, cause: error })
      request.log.error({ err: error, code: failure.code }, 'audit record could not be written; response withheld')
      reply.code(failure.statusCode).header('retry-after', String(failure.retryAfterSeconds))
      return JSON.stringify(errorBody(failure))
    }
  }

  /** The request's account: resolved by its route, or the default one where the path names no alias. */
  function accountOfRecord (request: FastifyRequest): Account | undefined {
    if (request.account) return request.account
    const alias = (request.params as Params | null)?.alias
    return alias === undefined ? accounts().default : accounts().get(alias.toLowerCase())
  }

  function count (
    request: FastifyRequest,
    caller: string,
    { scope, status, issued }: Outcome,
    account: Account | undefined
  ): void {
    // An alias no account has is not a label value: only the broker's own aliases are.
    const alias = account?.alias ?? 'unknown'
    // An eviction is an operator's act, not a token request: it has its own counter.
    if (request.method === 'DELETE') {
      metrics.evictions.inc({ caller, scope: scope ?? 'all', status, account: alias })
    } else if (operatorAction(request) === undefined) {
      // Operators reading the status or an explanation are audited, not counted as token requests.
      const counted = scope ?? (isBatch(request) ? 'batch' : 'invalid')
      metrics.requests.inc({ caller, scope: counted, status, account: alias })
    }
    if (issued) {
      metrics.cache.inc({ result: issued.cache })
      metrics.servedTokenLife.observe((issued.token.expiresAt - clock.now()) / 1000)
    }
  }

  function auditRecord (
    request: FastifyRequest,
    reply: FastifyReply,
    { scope, resourceId, status, error, issued }: Outcome,
    account: Account | undefined,
    batch: { id: string; item: number } | undefined
  ): AuditRecord {
    const fingerprint = issued && auditor.fingerprintOf(issued.token)
    return {
      reqId: request.id,
      action: operatorAction(request) ?? (request.method === 'DELETE' ? 'evict' : 'issue'),
      caller: request.caller,
      // Null for a request that reached no route.
      scope: scope ?? (isBatch(request) ? 'batch' : clip((request.params as Params | null)?.scope)),
      resourceId: clip(resourceId),
      account: account?.name ?? null,
      alias: account?.alias ?? clip((request.params as Params | null)?.alias),
      decision: decisionFor(status),
      status,
      code: error?.code ?? null,
      reason: error?.reason ?? null,
      cache: issued?.cache ?? null,
      tokenFingerprint: fingerprint?.value ?? null,
      fingerprintKeyId: fingerprint?.keyId ?? null,
      tokenExpiresOn: issued ? new Date(issued.token.expiresAt).toISOString() : null,
      // ARM's id for the call behind this answer: the token's mint, or the refusal ARM answered.
      armRequestId: issued?.token.armRequestId ?? upstreamRequestId(error?.upstream) ?? null,
      durationMs: Math.round(reply.elapsedTime * 100) / 100,
      clientIp: request.ip,
      userAgent: clip(request.headers['user-agent']),
      batchId: batch?.id ?? null,
      batchItem: batch?.item ?? null,
      traceId: tracing?.traceId(request) ?? null
    }
  }
}

type Params = Record<string, string | undefined>

/** The outcome of a request of its own, as its route and reply tell it. */
function outcomeOf (request: FastifyRequest, reply: FastifyReply): Outcome {
  // Null for a request that reached no route.
  const params = (request.params ?? {}) as Params
  return {
    scope: routeScope(request),
    resourceId: params.videoId ?? params.projectId ?? params['*'],
    status: reply.statusCode,
    error: request.answeredError,
    issued: request.issued
  }
}

/** The span gets what an operator filters traces by; never the token or its fingerprint. */
function annotate (tracing: Tracing, request: FastifyRequest, record: AuditRecord): void {
  const attributes: Record<string, string> = { 'vi_token_broker.decision': record.decision }
  if (record.caller !== null) attributes['vi_token_broker.caller'] = record.caller
  if (record.scope !== null) attributes['vi_token_broker.scope'] = record.scope
  if (record.cache !== null) attributes['vi_token_broker.cache'] = record.cache
  /* c8 ignore next: the tracing test traces a successful request only */
  if (record.code !== null) attributes['vi_token_broker.code'] = record.code
  tracing.annotate(request, attributes)
}

function operatorAction (request: FastifyRequest): 'status' | 'explain' | undefined {
  // A request that reached no route has no route config.
  return (request.routeOptions.config as FastifyContextConfig | undefined)?.action
}

function routeScope (request: FastifyRequest): Scope | undefined {
  // A request that reached no route has no route config.
  return (request.routeOptions.config as FastifyContextConfig | undefined)?.scope
}

/** POST /tokens/batch, answered as a whole (not 200): its one record and count say `batch`. */
function isBatch (request: FastifyRequest): boolean {
  return (request.routeOptions.config as FastifyContextConfig | undefined)?.batch === true
}

function upstreamRequestId (upstream: Record<string, unknown> | undefined): string | undefined {
  const id = upstream?.armRequestId
  return typeof id === 'string' ? id : undefined
}

/** Caller-supplied text in an audit record is bounded, so no request can bloat the log. */
function clip (text: string | undefined): string | null {
  return text === undefined ? null : text.slice(0, MAX_AUDITED_TEXT)
}

declare module 'fastify' {
  interface FastifyRequest {
    /** The token served, for the audit record. */
    issued: CacheResult | null
    /** A batch's items, each recorded and counted as a request of its own when the batch is answered 200. */
    batch: BatchOutcomes | null
    /** The account the request was for, once its route resolved it (for the audit record). */
    account: Account | null
  }
  interface FastifyContextConfig {
    /** What a route serves, for its audit record: a token scope, a batch, or an operator's action. */
    scope?: Scope
    batch?: boolean
    action?: 'status' | 'explain'
  }
}
