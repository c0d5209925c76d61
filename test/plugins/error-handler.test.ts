import Fastify from 'fastify'
import t from 'tap'
import errorHandler from '../../src/plugins/error-handler.js'
import { brokerError } from '../../src/errors.js'

async function appThrowing (error: unknown) {
  const app = Fastify({ logger: false })
  await app.register(errorHandler)
  app.get('/boom', async () => {
    throw error
  })
  return app
}

t.test('an unexpected error is a 500 INTERNAL_ERROR with no stack or message leaked', async (t) => {
  const app = await appThrowing(new Error('database password is hunter2'))
  t.teardown(() => app.close())
  const response = await app.inject('/boom')
  t.equal(response.statusCode, 500)
  t.same(response.json(), { error: { code: 'INTERNAL_ERROR', message: 'An unexpected error occurred' } })
})

t.test('catalogue errors keep their status, details and Retry-After', async (t) => {
  const app = await appThrowing(
    brokerError('ARM_ERROR', {
      details: [{ code: 'GENERAL', message: 'ARM answered HTTP 500' }],
      upstream: { armMessage: 'internal' }
    })
  )
  t.teardown(() => app.close())
  const response = await app.inject('/boom')
  t.equal(response.statusCode, 502)
  t.same(response.json(), {
    error: {
      code: 'ARM_ERROR',
      message: 'Azure Resource Manager refused to issue the token',
      details: [{ code: 'GENERAL', message: 'ARM answered HTTP 500' }]
    }
  })

  const throttled = await appThrowing(brokerError('ARM_THROTTLED', { retryAfterSeconds: 12 }))
  t.teardown(() => throttled.close())
  const busy = await throttled.inject('/boom')
  t.equal(busy.statusCode, 503)
  t.equal(busy.headers['retry-after'], '12')
})
