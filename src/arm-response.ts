import type { PipelineResponse } from '@azure/core-rest-pipeline'
import { brokerError, isBrokerError, type BrokerError } from './errors.js'

/** What ARM's answers and the transport's failures mean to the broker's callers. */
export const DEFAULT_RETRY_AFTER_SECONDS = 5
const IDENTITY_ERRORS = new Set([
  'IdentityTimeoutError',
  'CredentialUnavailableError',
  'AuthenticationError',
  'AuthenticationRequiredError',
  'AggregateAuthenticationError'
])

export function readAccessToken (response: PipelineResponse): string {
  const token = (parseJson(response.bodyAsText) as { accessToken?: unknown } | undefined)?.accessToken
  if (typeof token === 'string' && token.length > 0) return token
  throw brokerError('ARM_ERROR', {
    details: [{ code: 'InvalidResponse', message: 'ARM answered 200 without an access token' }]
  })
}

export function responseError (
  response: PipelineResponse,
  armRequestId: string | undefined,
  now: number
): BrokerError {
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
    (parseRetryAfter(response.headers.get('retry-after'), now) ?? DEFAULT_RETRY_AFTER_SECONDS * 1000) / 1000
  )
  const details = [{ code: armCode, message: `ARM answered HTTP ${response.status}` }]
  if (response.status === 429) return brokerError('ARM_THROTTLED', { retryAfterSeconds, details, upstream })
  // A server-side failure is transient: callers are told when to come back, not that ARM refused them.
  if (response.status >= 500) return brokerError('ARM_UNAVAILABLE', { retryAfterSeconds, details, upstream })
  return brokerError('ARM_ERROR', { details, upstream })
}

export function transportError (error: unknown, deadlinePassed: boolean, reachedArm: boolean): BrokerError {
  if (isBrokerError(error)) return error
  // Everything the pipeline, the deadline or the credential rejects with is an Error.
  if (!reachedArm && (deadlinePassed || IDENTITY_ERRORS.has((error as Error).name))) {
    return brokerError('IDENTITY_UNAVAILABLE', { retryAfterSeconds: DEFAULT_RETRY_AFTER_SECONDS, cause: error })
  }
  if (deadlinePassed) return brokerError('ARM_TIMEOUT', { cause: error })
  return brokerError('ARM_UNAVAILABLE', { retryAfterSeconds: DEFAULT_RETRY_AFTER_SECONDS, cause: error })
}

export function isRetryable (error: BrokerError): boolean {
  return error.code === 'ARM_THROTTLED' || error.code === 'ARM_UNAVAILABLE' || error.upstream?.status === 408
}

/** Retry-After in ms, from delta-seconds or an HTTP date; undefined when absent or unreadable. */
export function parseRetryAfter (value: string | null | undefined, now: number): number | undefined {
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
