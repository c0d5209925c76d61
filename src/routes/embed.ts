import type { FastifyInstance } from 'fastify'
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox'
import { Type } from 'typebox'
import { embedOptions, embedUrl, WIDGET_OPTIONS, WIDGETS, type Widget } from '../embed.js'
import { brokerError } from '../errors.js'
import { BEARER_SECURITY, EmbedResponse, errorResponse, idParam } from '../schemas.js'
import { ACCOUNT_BASES, COMMON_RESPONSES, UNAVAILABLE_CODES } from './tokens.js'
import { accountFields, type Issuer } from './issue.js'

// Until Accounts_Get has answered, no URL can be built; the first read is retried within seconds.
const METADATA_RETRY_SECONDS = 5

/**
 * GET /embed/{widget}/{videoId} (default account) and /accounts/{alias}/embed/{widget}/{videoId}: one widget
 * URL with a Video-scope token, authorised as GET .../tokens/video/{videoId} is.
 */
export default async function embedRoutes (
  parent: FastifyInstance,
  options: { issuer: Issuer; webBaseUrl: string }
) {
  const app = parent.withTypeProvider<TypeBoxTypeProvider>()
  const { issuer, webBaseUrl } = options
  for (const base of ACCOUNT_BASES) {
    for (const widget of WIDGETS) {
      const documented = Object.entries(WIDGET_OPTIONS[widget])
        .map(([name, { description }]) => `\`${name}\`: ${description}`)
        .join('; ')
      app.get(
        `${base.prefix}/embed/${widget}/:videoId`,
        {
          config: { scope: 'video' },
          schema: {
            tags: ['embed'],
            summary: `Get a ${widget} widget URL for a video of ${base.of}`,
            description:
              `Widget options go in the query string and are passed on: ${documented}. ` +
              'Any other name, or a malformed value, is 400 INVALID_EMBED_OPTION.',
            security: BEARER_SECURITY,
            params: Type.Object({ ...base.params, videoId: idParam('video') }),
            response: {
              ...COMMON_RESPONSES,
              ...base.responses,
              200: EmbedResponse,
              400: errorResponse(
                ['INVALID_ID', 'INVALID_EMBED_OPTION'],
                'The id is malformed, or a widget option is unknown or malformed'
              ),
              503: errorResponse(
                [...UNAVAILABLE_CODES, 'ACCOUNT_METADATA_PENDING'],
                "As for a token, or the account's id and location are not read yet; retry after Retry-After seconds"
              )
            }
          }
        },
        async (request, reply) => {
          const { videoId } = request.params
          const chosen = embedOptions(widget as Widget, request.query as Record<string, unknown>)
          const account = issuer.authorise(request, 'video', videoId)
          const metadata = issuer.metadataOf(account)
          if (metadata === undefined) {
            throw brokerError('ACCOUNT_METADATA_PENDING', { retryAfterSeconds: METADATA_RETRY_SECONDS })
          }
          const { result } = await issuer.mint(request, account, 'video', videoId)
          reply.header('cache-control', 'no-store').header('pragma', 'no-cache')
          return {
            url: embedUrl(webBaseUrl, widget, metadata, videoId, result.token.accessToken, chosen),
            expiresOn: new Date(result.token.expiresAt).toISOString(),
            videoId,
            account: accountFields(account, metadata)
          }
        }
      )
    }
  }
}
