import t from 'tap'
import { build } from '../helper.js'

t.test('Swagger UI and the document are served by the broker itself, with security headers', async (t) => {
  const { request } = await build(t)
  const spec = await request({ url: '/openapi.json' })
  t.equal(spec.statusCode, 200)
  t.equal(spec.json().info.title, 'vi-token-broker')
  const ui = await request({ url: '/docs/' })
  t.equal(ui.statusCode, 200)
  t.match(ui.body, /swagger-ui/)
  t.notMatch(ui.body, /https?:\/\/(?!127\.0\.0\.1|localhost)[a-z0-9.-]+\.(com|net|org|io)\//i, 'no CDN references')
  const csp = ui.headers['content-security-policy'] as string
  t.match(csp, /default-src 'self'/)
  t.notMatch(csp, /upgrade-insecure-requests/)
  t.equal(ui.headers['x-content-type-options'], 'nosniff')
  const health = await request({ url: '/healthz' })
  t.match(health.headers['content-security-policy'], /default-src 'self'/, 'API responses carry the headers too')
})

t.test('DOCS_ENABLED=false turns the UI and the document off', async (t) => {
  const { request } = await build(t, { env: { DOCS_ENABLED: 'false' } })
  t.equal((await request({ url: '/openapi.json' })).statusCode, 404)
  t.equal((await request({ url: '/docs/' })).statusCode, 404)
  t.equal((await request({ url: '/healthz' })).statusCode, 200)
})
