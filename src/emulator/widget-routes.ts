import type { FastifyInstance } from 'fastify'
import { errors, jwtVerify, type CryptoKey } from 'jose'
import type { AccountDirectory } from './accounts.js'

export interface WidgetRoutesOptions {
  /** The public key of the emulator's Video Indexer signing key: the widget trusts tokens it signed. */
  aviPublicKey: CryptoKey
  accounts: AccountDirectory
  now: () => number
}

type Widget = 'player' | 'insights'

const escapeHtml = (text: string) =>
  text.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`)

function page (widget: Widget, status: 'ready' | 'denied', text: string): string {
  return (
    '<!doctype html><html><head><meta charset="utf-8"><title>Video Indexer widget (emulator)</title></head>' +
    `<body><main data-vi-widget="${widget}" data-vi-status="${status}">${escapeHtml(text)}</main></body></html>`
  )
}

/**
 * A stand-in for the widget host (www.videoindexer.ai), as Microsoft's "Embed Video Indexer widgets in your
 * apps" page describes it (https://learn.microsoft.com/azure/azure-video-indexer/video-indexer-embed-widgets):
 * GET /embed/{player|insights}/{accountId}/{videoId}/?accessToken=...&location=... shows a private video only
 * with a token of that account for that video (or of the whole account), in the account's region.
 */
export async function widgetRoutes (app: FastifyInstance, options: WidgetRoutesOptions): Promise<void> {
  const { aviPublicKey, accounts, now } = options
  for (const widget of ['player', 'insights'] as const) {
    app.get<{
      Params: { accountId: string; videoId: string }
      Querystring: Record<string, string | string[] | undefined>
    }>(`/embed/${widget}/:accountId/:videoId/`, async (request, reply) => {
      const { accountId, videoId } = request.params
      const reason = await denial(request.query.accessToken, request.query.location, accountId, videoId)
      reply.type('text/html; charset=utf-8').header('cache-control', 'no-store')
      if (reason !== undefined) return reply.code(401).send(page(widget, 'denied', reason))
      return page(widget, 'ready', `${widget} of video ${videoId}`)
    })
  }

  async function denial (
    token: unknown,
    location: unknown,
    accountId: string,
    videoId: string
  ): Promise<string | undefined> {
    if (typeof token !== 'string' || token === '') return 'no access token'
    if (typeof location !== 'string' || location === '') return 'no location'
    let claims
    try {
      ;({ payload: claims } = await jwtVerify(token, aviPublicKey, {
        algorithms: ['RS256'],
        currentDate: new Date(now()),
        requiredClaims: ['exp']
      }))
    } catch (error) {
      return error instanceof errors.JWTExpired ? 'the access token has expired' : 'the access token is not valid'
    }
    const account = accounts.byId(String(claims.AccountId))
    if (account === undefined || String(claims.AccountId).toLowerCase() !== accountId.toLowerCase()) {
      return 'the access token is of another account'
    }
    // The widgets take the region as ARM's programmatic name: "North Europe" and "NorthEurope" are "northeurope".
    if (location !== account.location.replace(/\s+/g, '').toLowerCase()) return 'the location is not the account\'s'
    if (claims.Scope === 'Account') return undefined
    if (claims.Scope === 'Video' && claims.VideoId === videoId) return undefined
    return 'the access token is not for this video'
  }
}
