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
  type TlsSettings
} from '@azure/core-rest-pipeline'
import type { Logger } from 'pino'
import type { ArmGate } from './arm-gate.js'
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
import type { Metrics } from './metrics.js'
import { ARM_SCOPE_NAMES } from './scope.js'
import type { Account, MintedToken, TokenRequest, TokenSource } from './token-source.js'

export const ARM_TOKEN_SCOPE = 'https://management.azure.com/.default'
const BACKOFF_BASE_MS = 200

export interface ArmClientOptions {
  arm: Config['arm']
  credential: TokenCredential
  clock: Clock
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
 * The last tier: mints restricted viewer tokens through ARM. One pipeline serves every call, so
 * the bearer-token policy keeps reusing the identity token until it nears expiry.
 */
export function createArmClient (options: ArmClientOptions): TokenSource {
  const { arm, credential, clock, gate, metrics, logger, random = Math.random } = options
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
  // https://learn.microsoft.com/rest/api/videoindexer/generate/restricted-viewer-access-token
  const mintUrl = (account: Account) =>
    `${arm.endpoint}/subscriptions/${encodeURIComponent(account.subscriptionId)}` +
    `/resourceGroups/${encodeURIComponent(account.resourceGroup)}` +
    `/providers/Microsoft.VideoIndexer/accounts/${encodeURIComponent(account.name)}` +
    `/generateRestrictedViewerAccessToken?api-version=${encodeURIComponent(arm.apiVersion)}`

  async function mint ({ account, scope, id }: TokenRequest): Promise<MintedToken> {
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
      return await attempts(mintUrl(account), body, correlationId, deadline.signal, deadlineAt, log)
    } finally {
      clearTimeout(timer)
    }
  }

  async function attempts (
    url: string,
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
        if (response.status === 200) {
          const accessToken = readAccessToken(response)
          return { accessToken, expiresAt: readExpiry(accessToken), armRequestId }
        }
        failure = responseError(response, armRequestId, clock.now())
        retryAfterMs = parseRetryAfter(response.headers.get('retry-after'), clock.now())
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

  return { get: mint }
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
