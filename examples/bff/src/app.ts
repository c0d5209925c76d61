// The sample BFF: a page listing a few videos, and one route that answers the broker's embed URLs for one of them.
// The browser gets only those URLs (each holds a Video-scope viewer token); the BFF's own caller JWT stays here.
import { readFile } from 'node:fs/promises'
import type { BrokerClient, BrokerError } from '@vi-token-broker/client'
import fastify, { type FastifyInstance } from 'fastify'

export interface SampleVideo {
  id: string
  title: string
}

export interface BffOptions {
  broker: BrokerClient
  videos: readonly SampleVideo[]
  /** The broker account alias to ask; the broker's default account when absent. */
  account?: string
}

export const SAMPLE_VIDEOS: readonly SampleVideo[] = [
  { id: '07ec9e38d4', title: 'Product launch keynote' },
  { id: 'abc123', title: 'Quarterly all-hands' },
  { id: 'f2a7c19e55', title: 'Customer interview: Fabrikam' }
]

const page = (name: string) => readFile(new URL(`../public/${name}`, import.meta.url), 'utf8')

export async function buildBff (options: BffOptions): Promise<FastifyInstance> {
  const { broker, videos } = options
  const byId = new Map(videos.map((video) => [video.id, video]))
  const [html, script] = await Promise.all([page('index.html'), page('app.js')])
  const app = fastify({ logger: false })

  app.addHook('onSend', async (_request, reply) => {
    // The page's own assets only; the widgets come from the broker's embed URLs, in frames.
    reply.header('content-security-policy', "default-src 'self'; frame-src *; style-src 'self' 'unsafe-inline'")
    reply.header('referrer-policy', 'no-referrer')
  })
  app.get('/', async (_request, reply) => reply.type('text/html; charset=utf-8').send(html))
  app.get('/app.js', async (_request, reply) => reply.type('text/javascript; charset=utf-8').send(script))
  app.get('/api/videos', async () => ({ videos }))

  app.get<{ Params: { videoId: string } }>('/api/videos/:videoId/embed', async (request, reply) => {
    const video = byId.get(request.params.videoId)
    if (!video) {
      return reply.code(404).send({ error: { code: 'UNKNOWN_VIDEO', message: 'Not one of the sample videos' } })
    }
    const account = options.account === undefined ? {} : { account: options.account }
    try {
      const [player, insights] = await Promise.all([
        broker.embedUrl('player', video.id, { ...account, autoplay: false }),
        broker.embedUrl('insights', video.id, { ...account, widgets: ['people', 'keywords', 'transcript'] })
      ])
      reply.header('cache-control', 'no-store')
      return { videoId: video.id, player: player.url, insights: insights.url, expiresOn: player.expiresOn }
    } catch (caught) {
      // The client rejects with BrokerError only. Its code is safe to pass on; its cause stays in the log.
      const error = caught as BrokerError
      request.log.warn({ code: error.code, status: error.status, brokerRequestId: error.requestId }, 'broker refused')
      const status = error.status === 403 ? 403 : 502
      return reply.code(status).send({ error: { code: error.code, message: 'The video cannot be shown now' } })
    }
  })
  return app
}
