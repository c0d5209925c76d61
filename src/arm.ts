import { randomUUID } from 'node:crypto'
import { setTimeout as sleep } from 'node:timers/promises'
import type { TokenCredential } from '@azure/identity'
import {
  bearerTokenAuthenticationPolicy,
  createDefaultHttpClient,
  createEmptyPipeline,
  createHttpHeaders,
  createPipelineRequest,
  tlsPolicy,
  type HttpClient,
  type PipelineRequest,
  type PipelineResponse,
  type TlsSettings
} from '@azure/core-rest-pipeline'
import type { Logger } from 'pino'
import type { Config } from './config.js'
import type { ArmGate } from './arm-gate.js'
import { faultLog } from './logger.js'
import { brokerError, isBrokerError, type BrokerError } from './errors.js'
import type { Metrics } from './metrics.js'
import { ARM_SCOPE_NAMES, type Scope } from './scope.js'

export const ARM_TOKEN_SCOPE = 'https://management.azure.com/.default'
const DEFAULT_RETRY_AFTER_SECONDS = 5
const BACKOFF_BASE_MS = 200
const IDENTITY_ERRORS = new Set([
  'IdentityTimeoutError',
  'CredentialUnavailableError',
  'AuthenticationError',
  'AuthenticationRequiredError',
  'AggregateAuthenticationError'
])

export interface MintRequest {
  scope: Scope
  id?: string | undefined
}

export interface MintedToken {
  accessToken: string
  armRequestId: string | undefined
}

export interface ArmClient {
  mint(request: MintRequest): Promise<MintedToken>
}

export interface ArmClientOptions {
  arm: Config['arm']
  account: Config['account']
  credential: TokenCredential
  /** Shared admission: concurrency bound, throttle hold and pacing. */
  gate: ArmGate
  metrics: Pick<Metrics, 'armDuration' | 'armRemainingWrites' | 'throttleHolds' | 'identityRefreshes'>
  logger: Logger
  httpClient?: HttpClient
  tls?: TlsSettings
  /** Jitter source for retry backoff; injectable for tests. */
  random?: () => number
}

/**
 * Mints restricted viewer tokens through ARM. One pipeline serves every call, so the
 * bearer-token policy keeps reusing the identity token until it nears expiry.
 */
export function createArmClient (options: ArmClientOptions): ArmClient {
  const { arm, account, credential, gate, metrics, logger, random = Math.random } = options
  const pipeline = createEmptyPipeline()
  if (options.tls) pipeline.addPolicy(tlsPolicy(options.tls))
  pipeline.addPolicy(
    bearerTokenAuthenticationPolicy({
      credential: countedCredential(boundedCredential(credential, arm.timeoutMs), metrics.identityRefreshes),
      scopes: ARM_TOKEN_SCOPE
    })
  )
  // Requests that get this far have their identity token: a later timeout is ARM's, not the identity endpoint's.
  const reachedArm = new WeakSet<PipelineRequest>()
  pipeline.addPolicy({
    name: 'markReachedArm',
    sendRequest (request, next) {
      reachedArm.add(request)
      return next(request)
    }
  })
  const httpClient = options.httpClient ?? createDefaultHttpClient()
  const url =
    `${arm.endpoint}/subscriptions/${encodeURIComponent(account.subscriptionId)}` +
    `/resourceGroups/${encodeURIComponent(account.resourceGroup)}` +
    `/providers/Microsoft.VideoIndexer/accounts/${encodeURIComponent(account.name)}` +
    `/generateRestrictedViewerAccessToken?api-version=${encodeURIComponent(arm.apiVersion)}`

  async function mint ({ scope, id }: MintRequest): Promise<MintedToken> {
    const body: Record<string, string> = { scope: ARM_SCOPE_NAMES[scope] }
    if (scope === 'video') body.videoId = id as string
    if (scope === 'project') body.projectId = id as string
    const correlationId = randomUUID()
    const log = logger.child({ armCorrelationId: correlationId, scope: body.scope })
    // A ref'd timer (unlike AbortSignal.timeout) holds the process open until the deadline settles the call.
    const deadline = new AbortController()
    const deadlineAt = performance.now() + arm.timeoutMs
    const timer = setTimeout(
      () => deadline.abort(new DOMException('ARM deadline passed', 'TimeoutError')),
      arm.timeoutMs
    )
    try {
      return await attempts(body, correlationId, deadline.signal, deadlineAt, log)
    } finally {
      clearTimeout(timer)
    }
  }

  async function attempts (
    body: Record<string, string>,
    correlationId: string,
    deadline: AbortSignal,
    deadlineAt: number,
    log: Logger
  ): Promise<MintedToken> {
    let failure: BrokerError | undefined
    let waitMs = 0
    for (let attempt = 0; attempt <= arm.maxRetries; attempt++) {
      if (attempt > 0) await sleep(waitMs)
      const request = createPipelineRequest({
        url,
        method: 'POST',
        body: JSON.stringify(body),
        headers: createHttpHeaders({
          'content-type': 'application/json',
          'x-ms-correlation-request-id': correlationId
        }),
        abortSignal: deadline
      })
      const release = await gate.acquire(deadline)
      const started = performance.now()
      let retryAfterMs: number | undefined
      try {
        const response = await untilAborted(pipeline.sendRequest(httpClient, request), deadline)
        const armRequestId = response.headers.get('x-ms-request-id')
        metrics.armDuration.observe({ status: response.status }, (performance.now() - started) / 1000)
        const remainingWrites = Number(response.headers.get('x-ms-ratelimit-remaining-subscription-writes') ?? NaN)
        if (Number.isFinite(remainingWrites)) {
          gate.observeRemainingWrites(remainingWrites)
          metrics.armRemainingWrites.set(remainingWrites)
        }
        log.info(
          { armRequestId, status: response.status, attempt, durationMs: Math.round(performance.now() - started) },
          'arm call'
        )
        if (response.status === 200) return { accessToken: readAccessToken(response), armRequestId }
        failure = responseError(response, armRequestId)
        retryAfterMs = parseRetryAfter(response.headers.get('retry-after'))
        if (response.status === 429) {
          gate.hold(retryAfterMs ?? DEFAULT_RETRY_AFTER_SECONDS * 1000)
          metrics.throttleHolds.inc()
        }
      } catch (error) {
        if (reachedArm.has(request)) metrics.armDuration.observe({ status: 0 }, (performance.now() - started) / 1000)
        failure = transportError(error, deadline.aborted, reachedArm.has(request))
        const { level, fields } = faultLog(error)
        log[level]({ attempt, ...fields, code: failure.code }, 'arm call failed')
      } finally {
        release()
      }
      waitMs = retryAfterMs ?? backoff(attempt, random)
      // A wait beyond the cap, or past the deadline, is handed back to the caller instead of slept.
      const canRetry =
        isRetryable(failure) && waitMs <= arm.retryAfterCapSeconds * 1000 && performance.now() + waitMs < deadlineAt
      if (!canRetry) break
    }
    throw failure
  }

  return { mint }
}

/**
 * The bearer policy shares one in-flight token refresh between requests; if the identity endpoint
 * hangs, that refresh must still end, or every later request would wait on it forever.
 */
function boundedCredential (credential: TokenCredential, timeoutMs: number): TokenCredential {
  return {
    getToken (scopes, options) {
      return new Promise((resolve, reject) => {
        const timer = setTimeout(() => {
          const error = new Error(`the identity endpoint did not answer within ${timeoutMs} ms`)
          error.name = 'IdentityTimeoutError'
          reject(error)
        }, timeoutMs)
        credential
          .getToken(scopes, options)
          .then(resolve, reject)
          .finally(() => clearTimeout(timer))
      })
    }
  }
}

function countedCredential (credential: TokenCredential, counter: Metrics['identityRefreshes']): TokenCredential {
  return {
    async getToken (scopes, options) {
      try {
        const token = await credential.getToken(scopes, options)
        counter.inc({ result: 'success' })
        return token
      } catch (error) {
        counter.inc({ result: 'failure' })
        throw error
      }
    }
  }
}

function readAccessToken (response: PipelineResponse): string {
  const token = (parseJson(response.bodyAsText) as { accessToken?: unknown } | undefined)?.accessToken
  if (typeof token === 'string' && token.length > 0) return token
  throw brokerError('ARM_ERROR', {
    details: [{ code: 'InvalidResponse', message: 'ARM answered 200 without an access token' }]
  })
}

function responseError (response: PipelineResponse, armRequestId: string | undefined): BrokerError {
  // The official examples answer some errors with an empty {} body, so every field is optional.
  const armError = (parseJson(response.bodyAsText) as { error?: { code?: unknown; message?: unknown } } | undefined)
    ?.error
  const armCode = typeof armError?.code === 'string' ? armError.code : `HTTP${response.status}`
  const upstream = {
    status: response.status,
    armRequestId,
    armCode,
    armMessage: typeof armError?.message === 'string' ? armError.message.slice(0, 500) : undefined
  }
  const retryAfterSeconds = Math.ceil(
    (parseRetryAfter(response.headers.get('retry-after')) ?? DEFAULT_RETRY_AFTER_SECONDS * 1000) / 1000
  )
  const details = [{ code: armCode, message: `ARM answered HTTP ${response.status}` }]
  if (response.status === 429) return brokerError('ARM_THROTTLED', { retryAfterSeconds, details, upstream })
  // A server-side failure is transient: callers are told when to come back, not that ARM refused them.
  if (response.status >= 500) return brokerError('ARM_UNAVAILABLE', { retryAfterSeconds, details, upstream })
  return brokerError('ARM_ERROR', { details, upstream })
}

function transportError (error: unknown, deadlinePassed: boolean, reachedArm: boolean): BrokerError {
  if (isBrokerError(error)) return error
  // Everything the pipeline, the deadline or the credential rejects with is an Error.
  if (!reachedArm && (deadlinePassed || IDENTITY_ERRORS.has((error as Error).name))) {
    return brokerError('IDENTITY_UNAVAILABLE', { retryAfterSeconds: DEFAULT_RETRY_AFTER_SECONDS, cause: error })
  }
  if (deadlinePassed) return brokerError('ARM_TIMEOUT', { cause: error })
  return brokerError('ARM_UNAVAILABLE', { retryAfterSeconds: DEFAULT_RETRY_AFTER_SECONDS, cause: error })
}

function isRetryable (error: BrokerError): boolean {
  return error.code === 'ARM_THROTTLED' || error.code === 'ARM_UNAVAILABLE' || error.upstream?.status === 408
}

function backoff (attempt: number, random: () => number): number {
  // Full jitter: a random wait up to an exponentially growing ceiling.
  return Math.round(random() * BACKOFF_BASE_MS * 2 ** attempt)
}

/** Retry-After in ms, from delta-seconds or an HTTP date; undefined when absent or unreadable. */
export function parseRetryAfter (value: string | null | undefined, now = Date.now()): number | undefined {
  if (value === undefined || value === null) return undefined
  if (/^\d+$/.test(value.trim())) return Number(value.trim()) * 1000
  const date = Date.parse(value)
  return Number.isNaN(date) ? undefined : Math.max(0, date - now)
}

function parseJson (text: string | null | undefined): unknown {
  try {
    return text ? JSON.parse(text) : undefined
  } catch {
    return undefined
  }
}

// The pipeline honours the abort signal, but a credential may not; the deadline must hold regardless.
function untilAborted<T> (work: Promise<T>, signal: AbortSignal): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    const onAbort = () => reject(signal.reason)
    signal.addEventListener('abort', onAbort, { once: true })
    work.then(resolve, reject).finally(() => signal.removeEventListener('abort', onAbort))
  })
}
