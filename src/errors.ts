import createError, { type FastifyErrorConstructor } from '@fastify/error'

/** Extra, caller-safe facts an error may carry to the response. */
export interface ErrorExtras {
  details?: Array<{ code: string; message: string }>
  retryAfterSeconds?: number
  /** Upstream facts for the logs only; never sent to the caller. */
  upstream?: Record<string, unknown>
  /**
   * Why the request was refused, for operators: a short word from a closed set (e.g. 401 reasons
   * such as `audience`). Goes to the audit record as `reason` and to the log; never to the caller.
   */
  reason?: string
}

function define (code: string, message: string, statusCode: number): FastifyErrorConstructor {
  return createError(code, message, statusCode)
}

/** The error catalogue: every code the broker can answer with, and its HTTP status. */
export const errors = {
  AUTH_REQUIRED: define('AUTH_REQUIRED', 'A bearer token is required in the Authorization header', 401),
  AUTH_INVALID: define('AUTH_INVALID', 'The bearer token is not valid', 401),
  AUTH_EXPIRED: define('AUTH_EXPIRED', 'The bearer token has expired', 401),
  AUTH_NO_CALLER: define('AUTH_NO_CALLER', 'The bearer token does not identify a caller', 401),
  POLICY_DENIED: define('POLICY_DENIED', 'The caller is not allowed this scope or id', 403),
  ADMIN_REQUIRED: define(
    'ADMIN_REQUIRED',
    'Only a caller marked admin in the policy may evict cached tokens or read the status and policy explanations',
    403
  ),
  RATE_LIMITED: define('RATE_LIMITED', 'Too many requests from this caller; retry later', 429),
  MINT_BUDGET_EXCEEDED: define(
    'MINT_BUDGET_EXCEEDED',
    "This caller has used its policy's budget of new tokens; cached tokens are still served; retry later",
    429
  ),
  INVALID_REQUEST: define('INVALID_REQUEST', 'The request is not valid HTTP or its URL cannot be decoded', 400),
  HEADERS_TOO_LARGE: define('HEADERS_TOO_LARGE', 'The request has too many headers, or headers too large', 431),
  BODY_NOT_ALLOWED: define('BODY_NOT_ALLOWED', 'A GET or DELETE request takes no body', 413),
  BODY_TOO_LARGE: define('BODY_TOO_LARGE', 'The request body is larger than a batch of BATCH_MAX_ITEMS requests', 413),
  UNSUPPORTED_MEDIA_TYPE: define('UNSUPPORTED_MEDIA_TYPE', 'The request body must be application/json', 415),
  INVALID_BATCH: define('INVALID_BATCH', 'The batch is not valid: %s', 400),
  REQUEST_TIMEOUT: define('REQUEST_TIMEOUT', 'The request was not received in time', 408),
  INVALID_ID: define('INVALID_ID', 'The id must match ^[A-Za-z0-9_-]{1,64}$', 400),
  INVALID_QUERY: define('INVALID_QUERY', 'The query string is not valid: see the route in the OpenAPI document', 400),
  MISSING_ID: define('MISSING_ID', 'This scope needs an id: /tokens/%s/{id}', 400),
  UNEXPECTED_ID: define('UNEXPECTED_ID', 'Account scope takes no id: use /tokens/account', 400),
  UNKNOWN_SCOPE: define('UNKNOWN_SCOPE', 'Unknown scope: use account, project or video', 400),
  NOT_FOUND: define('NOT_FOUND', 'No such route', 404),
  UNKNOWN_ACCOUNT: define('UNKNOWN_ACCOUNT', 'No account has this alias: see the broker\'s ACCOUNTS_FILE', 404),
  INVALID_EMBED_OPTION: define(
    'INVALID_EMBED_OPTION',
    'The widget option %s is unknown or its value is malformed: see the embed route in the OpenAPI document',
    400
  ),
  ACCOUNT_METADATA_PENDING: define(
    'ACCOUNT_METADATA_PENDING',
    "The account's id and location have not been read from Azure yet, so no embed URL can be built; retry later",
    503
  ),
  ARM_ERROR: define('ARM_ERROR', 'Azure Resource Manager refused to issue the token', 502),
  ARM_THROTTLED: define('ARM_THROTTLED', 'Azure Resource Manager is throttling token requests; retry later', 503),
  ARM_UNAVAILABLE: define('ARM_UNAVAILABLE', 'Azure Resource Manager could not be reached; retry later', 503),
  IDENTITY_UNAVAILABLE: define(
    'IDENTITY_UNAVAILABLE',
    'The broker could not obtain its managed identity token; retry later',
    503
  ),
  JWKS_UNAVAILABLE: define(
    'JWKS_UNAVAILABLE',
    'The signing keys for caller tokens could not be fetched; retry later',
    503
  ),
  ARM_TIMEOUT: define('ARM_TIMEOUT', 'Azure Resource Manager did not answer in time', 504),
  AUDIT_UNAVAILABLE: define(
    'AUDIT_UNAVAILABLE',
    'The audit record could not be written, so no token was issued; retry later',
    503
  ),
  EVICTION_INCOMPLETE: define(
    'EVICTION_INCOMPLETE',
    'The token was evicted from this replica, but Redis could not be reached to evict it across the fleet; retry',
    503
  ),
  OVERLOADED: define('OVERLOADED', 'The broker is overloaded; retry shortly', 503),
  NOT_READY: define('NOT_READY', 'The broker is not ready to serve (starting or shutting down)', 503),
  INTERNAL_ERROR: define('INTERNAL_ERROR', 'An unexpected error occurred', 500)
} as const

export type ErrorCode = keyof typeof errors

export type BrokerError = Error & { code: ErrorCode; statusCode: number } & ErrorExtras

/** Builds a catalogued error with optional extras. */
export function brokerError (
  code: ErrorCode,
  extras: ErrorExtras & { args?: string[]; cause?: unknown } = {}
): BrokerError {
  const { args = [], cause, ...rest } = extras
  const error = new errors[code](...args) as BrokerError
  if (cause !== undefined) error.cause = cause
  return Object.assign(error, rest)
}

export function isBrokerError (error: unknown): error is BrokerError {
  return (
    error instanceof Error && 'code' in error && typeof error.code === 'string' && Object.hasOwn(errors, error.code)
  )
}

/**
 * The ErrorResponse body (the ARM spec's shape): code, message and safe details only. The one place
 * that writes an error body: the error handler, the client-error handler and the audit fallback use it.
 */
export function errorBody (error: BrokerError) {
  const body: { code: string; message: string; details?: BrokerError['details'] } = {
    code: error.code,
    message: error.message
  }
  if (error.details !== undefined) body.details = error.details
  return { error: body }
}
