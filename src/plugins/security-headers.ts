import helmet from '@fastify/helmet'
import type { FastifyInstance } from 'fastify'
import fp from 'fastify-plugin'

/**
 * Security headers on every response. The content security policy is strict (same-origin only, no
 * CDN) yet still lets the bundled Swagger UI run: it needs inline styles and data: images.
 */
export default fp(
  async function securityHeaders(app: FastifyInstance) {
    await app.register(helmet, {
      contentSecurityPolicy: {
        directives: {
          defaultSrc: ["'self'"],
          scriptSrc: ["'self'"],
          styleSrc: ["'self'", "'unsafe-inline'"],
          imgSrc: ["'self'", 'data:'],
          connectSrc: ["'self'"],
          objectSrc: ["'none'"],
          frameAncestors: ["'none'"],
          baseUri: ["'self'"],
          formAction: ["'self'"],
          // Local development runs on plain http; upgrading would break it. TLS is the ingress's job.
          upgradeInsecureRequests: null
        }
      }
    })
  },
  { name: 'security-headers' }
)
