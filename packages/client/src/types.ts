// The shapes the broker answers with, taken from the generated OpenAPI types.
import type { components, paths } from './generated/openapi.js'

type Json<Operation> = Operation extends { responses: { 200: { content: { 'application/json': infer Body } } } }
  ? Body
  : never

/** A token route's 200 body: `accessToken`, `scope`, `expiresOn`, `accountName`, and `videoId` or `projectId`. */
export type TokenResponse = Json<paths['/tokens/video/{videoId}']['get']>

/** Every code in the broker's error catalogue. */
export type ErrorCode = components['schemas']['ErrorCode']

/** What `embedUrl` answers: the widget's URL with the token in it, when that token expires, and the account. */
export type EmbedUrlResponse = Json<paths['/embed/player/{videoId}']['get']>

export type Widget = 'player' | 'insights'

type OptionValue = string | number | boolean | readonly string[]

/** The player widget's options, as Microsoft's embed-widgets page documents them (the broker checks them). */
export interface PlayerOptions {
  t?: number
  captions?: string
  showCaptions?: boolean
  type?: 'audio'
  autoplay?: boolean
  locale?: string
  language?: string
  boundingBoxes?: string | readonly string[]
}

/** The insights widget's options; lists (`widgets`, `controls`) may be given as arrays. */
export interface InsightsOptions {
  widgets?: string | readonly string[]
  controls?: string | readonly string[]
  language?: string
  locale?: string
  tab?: string
  search?: string
  sort?: string
  title?: string
}

export type WidgetOptions = Record<string, OptionValue | undefined>

/** One item of a batch: Account scope takes no id. */
export type BatchRequest = { scope: 'video' | 'project'; id: string } | { scope: 'account' }

/** The batch route's 200 body: `batchId` (shared by the items' audit records) and one result per request. */
export type BatchResponse = Json<paths['/tokens/batch']['post']>

/** One answer of a batch, in request order: `status` 200 and the token, or the error its own request would have had. */
export type BatchResult = BatchResponse['results'][number]
