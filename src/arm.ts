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
  tracingPolicy,
  type HttpClient,
  type Pipeline,
  type PipelineRequest,
  type TlsSettings
} from '@azure/core-rest-pipeline'
import type { Logger } from 'pino'
import { throttleKey, type ArmGate } from './arm-gate.js'
import {
  DEFAULT_RETRY_AFTER_SECONDS,
  isRetryable,
  parseRetryAfter,
  readAccessToken,
  responseError,
  transportError
} from './arm-response.js'
import { readExpiry } from './avi-token.js'
import type { Clock } from './clock.js'
import type { Config } from './config.js'
import { boundedCredential, countedCredential } from './credential.js'
import type { BrokerError } from './errors.js'
import { faultLog } from './logger.js'
import type { ArmObservations, IdentityObservations } from './arm-observations.js'
import type { Metrics } from './metrics.js'
import { ARM_SCOPE_NAMES } from './scope.js'
import type { Account, MintedToken, MintPriority, TokenRequest, TokenSource } from './token-source.js'
import { parseAccountResource, type AccountMetadata } from './account-metadata.js'
import type { Tracing } from './tracing.js'

export const ARM_TOKEN_SCOPE = 'https://management.azure.com/.default'
const BACKOFF_BASE_MS = 200

/** One identity of the pool: its name on metrics and throttle keys (the client id), and its credential. */
export type { ArmObservations, IdentityObservations } from './arm-observations.js'

export interface PoolIdentity {
  id: string
  credential: TokenCredential
}

export interface ArmClientOptions {
  arm: Config['arm']
  /** The identities mints are spread over; each has its own ARM write bucket. */
  identities: readonly PoolIdentity[]
  clock: Clock
  /** Shared admission: concurrency bound, throttle holds and pacing, per identity and subscription. */
  gate: ArmGate
  metrics: Pick<
    Metrics,
    'armDuration' | 'armRemainingWrites' | 'throttleHolds' | 'identityRefreshes' | 'armMints' | 'armPacingDelay'
  >
  logger: Logger
  httpClient?: HttpClient
  tls?: TlsSettings
  /** Jitter source for retry backoff; injectable for tests. */
  random?: () => number
  /** When tracing is on: ARM and identity calls become child spans, and ARM requests carry traceparent. */
  tracing?: Pick<Tracing, 'azureContext'> | undefined
  /** Filled in as calls happen, per identity id, for GET /status. */
  observed?: ArmObservations
}

/**
 * The last tier: mints restricted viewer tokens through ARM. One pipeline per identity serves every
 * call, so each bearer-token policy keeps reusing its identity token until it nears expiry.
 */
export interface ArmClient extends TokenSource {
  /** ARM Accounts_Get: the account's id and location, read with the pool's first identity (a read, not a write). */
  readAccount(account: Account): Promise<AccountMetadata>
}

export function createArmClient (options: ArmClientOptions): ArmClient {
  const { arm, clock, gate, metrics, logger, random = Math.random, observed = new Map() } = options
  /* c8 ignore next: config always yields at least one identity; a guard for callers of this module */
  if (options.identities.length === 0) throw new Error('the identity pool is empty')
  for (const { id } of options.identities) observed.set(id, {})
  const seen = (id: string) => observed.get(id) as IdentityObservations
  // Requests that get this far have their identity token: a later timeout is ARM's, not the identity endpoint's.
  const reachedArm = new WeakSet<PipelineRequest>()
  const pipelines = new Map(
    options.identities.map(({ id, credential }) => {
      const pipeline = createEmptyPipeline()
      if (options.tls) pipeline.addPolicy(tlsPolicy(options.tls))
      pipeline.addPolicy(
        bearerTokenAuthenticationPolicy({
          credential: countedCredential(
            boundedCredential(credential, arm.timeoutMs),
            metrics.identityRefreshes,
            (token) => (seen(id).identityToken = { obtainedAt: clock.now(), expiresAt: token.expiresOnTimestamp })
          ),
          scopes: ARM_TOKEN_SCOPE
        })
      )
      // After the bearer policy, so the identity token's span and each ARM attempt's span are siblings.
      if (options.tracing) pipeline.addPolicy(tracingPolicy())
      pipeline.addPolicy({
        name: 'markReachedArm',
        sendRequest (request, next) {
          reachedArm.add(request)
          return next(request)
        }
      })
      return [id, pipeline] as const
    })
  )
  const identityOf = new Map<string, string>()
  const keysFor = (subscriptionId: string) =>
    options.identities.map(({ id }) => {
      const key = throttleKey(id, subscriptionId)
      identityOf.set(key, id)
      return key
    })
  const httpClient = options.httpClient ?? createDefaultHttpClient()
  const accountUrl = (account: Account) =>
    `${arm.endpoint}/subscriptions/${encodeURIComponent(account.subscriptionId)}` +
    `/resourceGroups/${encodeURIComponent(account.resourceGroup)}` +
    `/providers/Microsoft.VideoIndexer/accounts/${encodeURIComponent(account.name)}`
  // https://learn.microsoft.com/rest/api/videoindexer/generate/restricted-viewer-access-token
  const mintUrl = (account: Account) =>
    `${accountUrl(account)}/generateRestrictedViewerAccessToken?api-version=${encodeURIComponent(arm.apiVersion)}`

  // https://learn.microsoft.com/rest/api/videoindexer/accounts/get (GET, a read: no write bucket, no gate).
  async function readAccount (account: Account): Promise<AccountMetadata> {
    const { id } = options.identities[0] as PoolIdentity
    const request = createPipelineRequest({
      url: `${accountUrl(account)}?api-version=${encodeURIComponent(arm.apiVersion)}`,
      method: 'GET',
      headers: createHttpHeaders({ 'x-ms-correlation-request-id': randomUUID() }),
      abortSignal: AbortSignal.timeout(arm.timeoutMs)
    })
    const signal = request.abortSignal as AbortSignal
    let response
    try {
      response = await untilAborted((pipelines.get(id) as Pipeline).sendRequest(httpClient, request), signal)
    } catch (error) {
      throw transportError(error, signal.aborted, reachedArm.has(request))
    }
    const armRequestId = response.headers.get('x-ms-request-id') ?? undefined
    if (response.status !== 200) throw responseError(response, armRequestId, clock.now())
    return parseAccountResource(response.bodyAsText)
  }

  async function mint ({ account, scope, id, priority = 'caller' }: TokenRequest): Promise<MintedToken> {
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
      const call = { url: mintUrl(account), keys: keysFor(account.subscriptionId), priority }
      return await attempts(call, body, correlationId, deadline.signal, deadlineAt, log)
    } finally {
      clearTimeout(timer)
    }
  }

  async function attempts (
    { url, keys, priority }: { url: string; keys: string[]; priority: MintPriority },
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
        abortSignal: deadline,
        // The Azure SDK makes spans only for a request that names its parent (see tracingPolicy).
        ...(options.tracing ? { tracingOptions: { tracingContext: options.tracing.azureContext() } } : {})
      })
      // Half the time left may go on waiting for the write bucket; the rest is for the call itself.
      const maxWaitMs = (deadlineAt - performance.now()) / 2
      const admission = await gate.acquire(keys, { signal: deadline, maxWaitMs, priority })
      const identity = identityOf.get(admission.key) as string
      metrics.armPacingDelay.observe({ identity }, admission.pacedMs / 1000)
      const started = performance.now()
      let retryAfterMs: number | undefined
      try {
        const pipeline = pipelines.get(identity) as Pipeline
        const response = await untilAborted(pipeline.sendRequest(httpClient, request), deadline)
        const armRequestId = response.headers.get('x-ms-request-id')
        metrics.armDuration.observe({ status: response.status }, (performance.now() - started) / 1000)
        metrics.armMints.inc({ identity, status: response.status })
        seen(identity).lastAnswer = { status: response.status, at: clock.now() }
        const remainingWrites = Number(response.headers.get('x-ms-ratelimit-remaining-subscription-writes') ?? NaN)
        if (Number.isFinite(remainingWrites)) {
          gate.observeRemainingWrites(admission.key, remainingWrites)
          metrics.armRemainingWrites.set({ identity }, remainingWrites)
          seen(identity).remainingWrites = remainingWrites
        }
        log.info(
          {
            armRequestId,
            status: response.status,
            attempt,
            identity,
            durationMs: Math.round(performance.now() - started)
          },
          'arm call'
        )
        if (response.status === 200) {
          const accessToken = readAccessToken(response)
          return { accessToken, expiresAt: readExpiry(accessToken), armRequestId }
        }
        failure = responseError(response, armRequestId, clock.now())
        retryAfterMs = parseRetryAfter(response.headers.get('retry-after'), clock.now())
        if (response.status === 429) {
          gate.hold(admission.key, retryAfterMs ?? DEFAULT_RETRY_AFTER_SECONDS * 1000)
          metrics.throttleHolds.inc({ identity })
          // Another identity of the pool may be free now: try it without waiting out this one's hold.
          retryAfterMs = gate.holdRemainingMs(keys)
        }
      } catch (error) {
        if (reachedArm.has(request)) {
          metrics.armDuration.observe({ status: 0 }, (performance.now() - started) / 1000)
          seen(identity).lastAnswer = { status: 0, at: clock.now() }
        }
        failure = transportError(error, deadline.aborted, reachedArm.has(request))
        const { level, fields } = faultLog(error)
        log[level]({ attempt, ...fields, code: failure.code }, 'arm call failed')
      } finally {
        admission.release()
      }
      waitMs = retryAfterMs ?? backoff(attempt, random)
      // A wait beyond the cap, or past the deadline, is handed back to the caller instead of slept.
      const canRetry =
        isRetryable(failure) && waitMs <= arm.retryAfterCapSeconds * 1000 && performance.now() + waitMs < deadlineAt
      if (!canRetry) break
    }
    throw failure
  }

  return { get: mint, readAccount }
}

function backoff (attempt: number, random: () => number): number {
  // Full jitter: a random wait up to an exponentially growing ceiling.
  return Math.round(random() * BACKOFF_BASE_MS * 2 ** attempt)
}

// The pipeline honours the abort signal, but a credential may not; the deadline must hold regardless.
function untilAborted<T> (work: Promise<T>, signal: AbortSignal): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    const onAbort = () => reject(signal.reason)
    signal.addEventListener('abort', onAbort, { once: true })
    work.then(resolve, reject).finally(() => signal.removeEventListener('abort', onAbort))
  })
}
