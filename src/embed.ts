import type { AccountMetadata } from './account-metadata.js'
import { brokerError } from './errors.js'

/**
 * The Video Indexer widgets, as Microsoft's "Embed Video Indexer widgets in your apps" page documents them
 * (https://learn.microsoft.com/azure/azure-video-indexer/video-indexer-embed-widgets):
 * {web}/embed/player/{accountId}/{videoId}/ and {web}/embed/insights/{accountId}/{videoId}/, with
 * `accessToken` for a private video and `location` (the account's region, lower case) always.
 */
export const WIDGETS = ['player', 'insights'] as const
export type Widget = (typeof WIDGETS)[number]

const LANGUAGE = /^[A-Za-z]{2,3}(-[A-Za-z0-9]{2,8}){0,2}$/
const BOOLEAN = /^(true|false)$/
const commaListOf = (items: readonly string[]) => new RegExp(`^(${items.join('|')})(,(${items.join('|')}))*$`)
// No control characters; the widget shows it or searches for it.
const TEXT = /^[^\p{Cc}]{1,200}$/u

const INSIGHTS_WIDGETS = [
  'people', 'keywords', 'audioEffects', 'labels', 'sentiments', 'emotions', 'topics', 'keyframes', 'transcript',
  'ocr', 'speakers', 'scenes', 'spokenLanguage', 'observedPeople', 'namedEntities', 'detectedObjects'
]

/** Each widget's documented options and the values each takes; anything else is refused. */
export const WIDGET_OPTIONS: Record<Widget, Record<string, { pattern: RegExp; description: string }>> = {
  player: {
    t: { pattern: /^\d{1,6}(\.\d{1,3})?$/, description: 'Start time in seconds' },
    captions: { pattern: LANGUAGE, description: 'Caption language, e.g. en-US' },
    showCaptions: { pattern: BOOLEAN, description: 'Show captions on load: true or false' },
    type: { pattern: /^audio$/, description: 'audio: the audio player skin' },
    autoplay: { pattern: BOOLEAN, description: 'Start playing on load: true or false' },
    locale: { pattern: LANGUAGE, description: 'UI language, e.g. es-ES' },
    language: { pattern: LANGUAGE, description: 'Insights language, e.g. en-US' },
    boundingBoxes: {
      pattern: commaListOf(['observedPeople', 'people', 'detectedObjects']),
      description: 'Comma list of observedPeople, people, detectedObjects'
    }
  },
  insights: {
    widgets: { pattern: commaListOf(INSIGHTS_WIDGETS), description: `Comma list of ${INSIGHTS_WIDGETS.join(', ')}` },
    controls: {
      pattern: commaListOf(['search', 'download', 'presets', 'language']),
      description: 'Comma list of search, download, presets, language'
    },
    language: { pattern: LANGUAGE, description: 'Insights language, e.g. en-US' },
    locale: { pattern: LANGUAGE, description: 'UI language, e.g. es-ES' },
    tab: { pattern: /^(insights|timeline)$/, description: 'insights or timeline' },
    search: { pattern: TEXT, description: 'Text to search for, up to 200 characters' },
    sort: {
      pattern: /^[A-Za-z]{1,32}_[A-Za-z]{1,32}_(asc|desc)(,[A-Za-z]{1,32}_[A-Za-z]{1,32}_(asc|desc))*$/,
      description: '<widget>_<property>_<asc|desc>, comma separated'
    },
    title: { pattern: TEXT, description: 'The widget title, up to 200 characters' }
  }
}

/**
 * The widget options of a query string, checked against the closed list; throws INVALID_EMBED_OPTION naming
 * the first bad one.
 */
export function embedOptions (widget: Widget, query: Record<string, unknown>): Array<[string, string]> {
  const known = WIDGET_OPTIONS[widget]
  return Object.entries(query).map(([name, value]) => {
    const option = Object.hasOwn(known, name) ? known[name] : undefined
    // A repeated option arrives as an array: malformed too.
    if (option === undefined || typeof value !== 'string' || !option.pattern.test(value)) {
      // The name is echoed only when it looks like one, so a response never carries arbitrary caller text.
      const shown = /^[A-Za-z0-9_-]{1,64}$/.test(name) ? name : '(not a valid option name)'
      throw brokerError('INVALID_EMBED_OPTION', { args: [shown], reason: 'embed_option' })
    }
    return [name, value]
  })
}

/** The widget URL of one video, with its token, the account's location and any options. */
export function embedUrl (
  webBaseUrl: string,
  widget: Widget,
  metadata: AccountMetadata,
  videoId: string,
  accessToken: string,
  options: Array<[string, string]> = []
): string {
  const query = new URLSearchParams([['accessToken', accessToken], ['location', metadata.location], ...options])
  const path = `${encodeURIComponent(metadata.accountId)}/${encodeURIComponent(videoId)}`
  return `${webBaseUrl}/embed/${widget}/${path}/?${query}`
}
