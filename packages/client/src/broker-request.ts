import { BrokerError } from './broker-error.js'
import type { CallerToken } from './caller-credential.js'
import { parseRetryAfter } from './retry-after.js'

export interface RequestPolicy {
  baseUrl: string
  callerToken: CallerToken
  fetch: typeof fetch
  /** Attempts in all, the first included, for 429 and 503 answers. */
  maxAttempts: number
  /** A Retry-After longer than this is handed back to the caller instead of waited out. */
  maxRetryAfterSeconds: number
  /** The whole call, waits included. */
  timeoutMs: number
}

const RETRIED = new Set([429, 503])

/**
 * Sends one request to the broker and answers its JSON body: waits out Retry-After on 429 and 503 (bounded by
 * attempts, the cap and the deadline), and gets a new caller token once after a 401.
 */
export async function brokerRequest (
  policy: RequestPolicy,
  path: string,
  init: { method?: 'GET' | 'POST'; body?: unknown } = {}
): Promise<unknown> {
  const deadline = AbortSignal.timeout(policy.timeoutMs)
  const deadlineAt = Date.now() + policy.timeoutMs
  let refreshed = false
  for (let attempt = 1; ; attempt++) {
    const response = await send(policy, path, init, await policy.callerToken(refreshed), deadline)
    if (response.ok) return await readJson(response)
    const failure = await toError(response)
    if (response.status === 401 && !refreshed) {
      refreshed = true
      attempt--
      continue
    }
    const waitSeconds = failure.retryAfterSeconds ?? 1
    const canRetry = RETRIED.has(response.status) && attempt < policy.maxAttempts &&
      waitSeconds <= policy.maxRetryAfterSeconds && Date.now() + waitSeconds * 1000 < deadlineAt
    if (!canRetry) throw failure
    // The deadline was checked above, so this wait ends before it.
    await new Promise((resolve) => setTimeout(resolve, waitSeconds * 1000))
  }
}

async function send (
  policy: RequestPolicy,
  path: string,
  init: { method?: 'GET' | 'POST'; body?: unknown },
  token: string,
  deadline: AbortSignal
): Promise<Response> {
  const headers: Record<string, string> = { authorization: `Bearer ${token}`, accept: 'application/json' }
  if (init.body !== undefined) headers['content-type'] = 'application/json'
  try {
    return await policy.fetch(new URL(path, policy.baseUrl), {
      method: init.method ?? 'GET',
      headers,
      ...(init.body === undefined ? {} : { body: JSON.stringify(init.body) }),
      signal: deadline
    })
  } catch (error) {
    throw transportError(error, deadline)
  }
}

function transportError (error: unknown, deadline: AbortSignal): BrokerError {
  if (deadline.aborted) {
    return new BrokerError(0, 'DEADLINE_EXCEEDED', 'The broker did not answer in time', { cause: error })
  }
  return new BrokerError(0, 'BROKER_UNREACHABLE', 'The broker could not be reached', { cause: error })
}

async function readJson (response: Response): Promise<unknown> {
  try {
    return await response.json()
  } catch (error) {
    throw new BrokerError(response.status, 'INVALID_RESPONSE', 'The broker answered a body that is not JSON', {
      requestId: response.headers.get('x-request-id') ?? undefined,
      cause: error
    })
  }
}

/** The broker's `{ error: { code, message } }`, or a summary when something in between answered otherwise. */
async function toError (response: Response): Promise<BrokerError> {
  const body = await readJson(response).catch(() => undefined)
  const error = (body as { error?: { code?: unknown; message?: unknown } } | undefined)?.error
  const code = typeof error?.code === 'string' ? error.code : `HTTP_${response.status}`
  const message = typeof error?.message === 'string' ? error.message : `The broker answered ${response.status}`
  return new BrokerError(response.status, code, message, {
    retryAfterSeconds: parseRetryAfter(response.headers.get('retry-after')),
    requestId: response.headers.get('x-request-id') ?? undefined
  })
}
