import type { ErrorCode } from './types.js'

/** Codes the client itself gives when the broker gave none: no answer, no time left, or an answer it cannot read. */
export type ClientErrorCode = 'BROKER_UNREACHABLE' | 'DEADLINE_EXCEEDED' | 'INVALID_RESPONSE' | 'CREDENTIAL_UNAVAILABLE'

/** A refusal or failure: `status` is the broker's HTTP status (0 when it gave none), `code` its stable code. */
export class BrokerError extends Error {
  override name = 'BrokerError'
  readonly status: number
  readonly code: ErrorCode | ClientErrorCode | (string & {})
  /** From the broker's Retry-After, when it sent one (429 and 503). */
  readonly retryAfterSeconds: number | undefined
  /** The broker's x-request-id, to find the request in its logs and audit records. */
  readonly requestId: string | undefined

  constructor (
    status: number,
    code: BrokerError['code'],
    message: string,
    extras: { retryAfterSeconds?: number | undefined; requestId?: string | undefined; cause?: unknown } = {}
  ) {
    super(message, extras.cause === undefined ? undefined : { cause: extras.cause })
    this.status = status
    this.code = code
    this.retryAfterSeconds = extras.retryAfterSeconds
    this.requestId = extras.requestId
  }
}
