import { BrokerError } from './broker-error.js'
import { brokerRequest, type RequestPolicy } from './broker-request.js'
import { callerToken, type CallerCredential } from './caller-credential.js'
import { createSingleFlightCache } from './single-flight-cache.js'
import type {
  BatchRequest,
  BatchResponse,
  EmbedUrlResponse,
  InsightsOptions,
  PlayerOptions,
  TokenResponse,
  Widget,
  WidgetOptions
} from './types.js'

export interface BrokerClientOptions {
  /** The broker's base URL, e.g. http://vi-token-broker:8080 */
  baseUrl: string
  /** The caller JWT for the broker's audience: a function returning it, or an @azure/identity TokenCredential. */
  credential: CallerCredential
  /** With a TokenCredential: the scope to ask for, e.g. api://vi-token-broker/.default */
  scope?: string
  /** Tokens and embed URLs are kept until `expiresOn` minus this; default 60. */
  refreshMarginSeconds?: number
  /** How many tokens and embed URLs are kept at most; default 1000. */
  maxCacheEntries?: number
  /** Attempts per call for 429 and 503 answers, the first included; default 3. */
  maxAttempts?: number
  /** A longer Retry-After is not waited out but thrown at once (as `retryAfterSeconds`); default 10. */
  maxRetryAfterSeconds?: number
  /** The deadline of one call, retries included; default 15000. */
  timeoutMs?: number
  /** The fetch to use; default the platform's. */
  fetch?: typeof fetch
}

/** Which account to ask: an alias from the broker's accounts file; the broker's default account when absent. */
export interface AccountOption {
  account?: string
}

export interface BrokerClient {
  videoToken(videoId: string, options?: AccountOption): Promise<TokenResponse>
  projectToken(projectId: string, options?: AccountOption): Promise<TokenResponse>
  accountToken(options?: AccountOption): Promise<TokenResponse>
  embedUrl(widget: 'player', videoId: string, options?: PlayerOptions & AccountOption): Promise<EmbedUrlResponse>
  embedUrl(widget: 'insights', videoId: string, options?: InsightsOptions & AccountOption): Promise<EmbedUrlResponse>
  /** Many tokens in one request; each result has its own status. Tokens it returns are cached too. */
  batch(requests: readonly BatchRequest[], options?: AccountOption): Promise<BatchResponse>
  /** Forgets every cached token and embed URL. */
  clear(): void
}

// The broker's own limits, checked here too so that no id can change the path it is put into.
const ID = /^[A-Za-z0-9_-]{1,64}$/
const ALIAS = /^[a-z0-9][a-z0-9-]{0,62}$/

function checked (kind: string, value: string, pattern: RegExp): string {
  if (!pattern.test(value)) throw new BrokerError(400, 'INVALID_ID', `The ${kind} must match ${pattern.source}`)
  return value
}

function accountPrefix (account: string | undefined): string {
  return account === undefined ? '' : `/accounts/${checked('account alias', account, ALIAS)}`
}

function widgetQuery (options: WidgetOptions): string {
  const query = new URLSearchParams()
  // Sorted, so that the same options are one cache key in any order; an option given as undefined is left out.
  const given = Object.entries(options).filter(([, value]) => value !== undefined)
  for (const [name, value] of given.sort(([a], [b]) => a.localeCompare(b))) {
    query.set(name, Array.isArray(value) ? value.join(',') : String(value))
  }
  const text = query.toString()
  return text === '' ? '' : `?${text}`
}

function readToken (body: unknown): TokenResponse {
  const token = body as Partial<TokenResponse> | null
  if (typeof token?.accessToken !== 'string' || Number.isNaN(Date.parse(String(token.expiresOn)))) {
    throw new BrokerError(200, 'INVALID_RESPONSE', 'The broker answered 200 without an accessToken and expiresOn')
  }
  return token as TokenResponse
}

function readEmbed (body: unknown): EmbedUrlResponse {
  const embed = body as Partial<EmbedUrlResponse> | null
  if (typeof embed?.url !== 'string' || Number.isNaN(Date.parse(String(embed.expiresOn)))) {
    throw new BrokerError(200, 'INVALID_RESPONSE', 'The broker answered 200 without a url and expiresOn')
  }
  return embed as EmbedUrlResponse
}

export function createBrokerClient (options: BrokerClientOptions): BrokerClient {
  const policy: RequestPolicy = {
    baseUrl: options.baseUrl,
    callerToken: callerToken(options.credential, options.scope),
    fetch: options.fetch ?? globalThis.fetch,
    maxAttempts: options.maxAttempts ?? 3,
    maxRetryAfterSeconds: options.maxRetryAfterSeconds ?? 10,
    timeoutMs: options.timeoutMs ?? 15_000
  }
  const marginMs = (options.refreshMarginSeconds ?? 60) * 1000
  const cache = createSingleFlightCache<TokenResponse | EmbedUrlResponse>({
    expiresAt: (value) => Date.parse(value.expiresOn) - marginMs,
    maxEntries: options.maxCacheEntries ?? 1000
  })

  async function token (account: string | undefined, path: string): Promise<TokenResponse> {
    const prefix = accountPrefix(account)
    return await (cache.get(`token ${prefix}${path}`, async () =>
      readToken(await brokerRequest(policy, `${prefix}${path}`))) as Promise<TokenResponse>)
  }

  async function embedUrl (widget: Widget, videoId: string, all: WidgetOptions & AccountOption = {}) {
    const { account, ...widgetOptions } = all
    const id = checked('video id', videoId, ID)
    const path = `${accountPrefix(account)}/embed/${widget}/${id}${widgetQuery(widgetOptions)}`
    return await (cache.get(`embed ${path}`, async () =>
      readEmbed(await brokerRequest(policy, path))) as Promise<EmbedUrlResponse>)
  }

  return {
    videoToken: async (videoId, { account } = {}) =>
      await token(account, `/tokens/video/${checked('video id', videoId, ID)}`),
    projectToken: async (projectId, { account } = {}) =>
      await token(account, `/tokens/project/${checked('project id', projectId, ID)}`),
    accountToken: async ({ account } = {}) => await token(account, '/tokens/account'),
    embedUrl: embedUrl as BrokerClient['embedUrl'],
    async batch (requests, { account } = {}) {
      const prefix = accountPrefix(account)
      const body = (await brokerRequest(policy, `${prefix}/tokens/batch`, { method: 'POST', body: { requests } })) as {
        results?: unknown
      } | null
      if (!Array.isArray(body?.results) || body.results.length !== requests.length) {
        throw new BrokerError(200, 'INVALID_RESPONSE', 'The broker answered a batch without one result per request')
      }
      const batch = body as BatchResponse
      batch.results.forEach((result, index) => {
        const request = requests[index] as BatchRequest
        const path = request.scope === 'account' ? '/tokens/account' : `/tokens/${request.scope}/${request.id}`
        if ('accessToken' in result) cache.set(`token ${prefix}${path}`, result)
      })
      return batch
    },
    clear: () => cache.clear()
  }
}
