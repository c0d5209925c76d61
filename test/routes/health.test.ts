import t from 'tap'
import { build } from '../helper.js'

t.test('liveness and readiness need no authentication', async (t) => {
  const { request } = await build(t)
  const live = await request({ url: '/healthz' })
  t.equal(live.statusCode, 200)
  t.same(live.json(), { status: 'ok' })
  t.ok(live.headers['x-request-id'])
  t.same((await request({ url: '/readyz' })).json(), { status: 'ready' })
})

t.test('readiness turns 503 once shutdown starts; liveness stays 200', async (t) => {
  const { app, request } = await build(t)
  app.beginShutdown()
  const ready = await request({ url: '/readyz' })
  t.equal(ready.statusCode, 503)
  t.equal(ready.json().error.code, 'NOT_READY')
  t.equal(ready.headers['retry-after'], '5')
  t.equal((await request({ url: '/healthz' })).statusCode, 200)
})

t.test('a URL that cannot be decoded gets a 400 in the error shape', async (t) => {
  const { request } = await build(t)
  const response = await request({ url: '/tokens/video/%zz' })
  t.equal(response.statusCode, 400)
  t.same(response.json(), {
    error: { code: 'INVALID_REQUEST', message: 'The request is not valid HTTP or its URL cannot be decoded' }
  })
  t.ok(response.headers['x-request-id'])
})
