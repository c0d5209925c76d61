import Fastify, { type FastifyBaseLogger, type FastifyRequest } from 'fastify'
import { pino } from 'pino'
import t from 'tap'
import { brokerError } from '../src/errors.js'
import { faultLog, loggerOptions, REDACTED_PATHS } from '../src/logger.js'
import { LogCapture } from './support/log-capture.js'

const CENSOR = '[redacted]'
const BEARER = 'Bearer eyJhbGciOiJIUzI1NiJ9.caller-token-payload.signature'
const ACCESS_TOKEN = 'eyJhbGciOiJSUzI1NiJ9.video-indexer-access-token.signature'

function capturedLogger (level = 'info') {
  const logs = new LogCapture()
  logs.secret(BEARER)
  logs.secret(ACCESS_TOKEN)
  return { logger: pino(loggerOptions(level), logs), logs }
}

t.test('options', async (t) => {
  const options = loggerOptions('warn')
  t.equal(options.level, 'warn')
  t.same(options.redact, { paths: REDACTED_PATHS, censor: CENSOR })
  t.type(options.serializers?.req, 'function')
  t.type(options.serializers?.err, 'function')
})

t.test('the level is applied', async (t) => {
  const { logger, logs } = capturedLogger('warn')
  logger.info('dropped')
  logger.warn('kept')
  t.same(
    logs.records.map((record) => record.msg),
    ['kept']
  )
})

t.test('censoring', async (t) => {
  t.test('an authorization header', async (t) => {
    const { logger, logs } = capturedLogger()
    logger.info({ headers: { authorization: BEARER, 'user-agent': 'ua' } }, 'headers')
    logger.info({ authorization: BEARER }, 'top level')
    t.match(logs.records[0], { headers: { authorization: CENSOR, 'user-agent': 'ua' } })
    t.match(logs.records[1], { authorization: CENSOR })
    t.same(logs.leaks(), [])
  })

  t.test('an authorization header inside a raw req object', async (t) => {
    // The req serializer already drops headers; the redact path is the second line of defence.
    const { logs } = capturedLogger()
    const logger = pino({ ...loggerOptions('info'), serializers: {} }, logs)
    logger.info({ req: { headers: { authorization: BEARER } } }, 'raw req')
    t.match(logs.records[0], { req: { headers: { authorization: CENSOR } } })
    t.same(logs.leaks(), [])
  })

  t.test('an accessToken field, at the top level and one level down', async (t) => {
    const { logger, logs } = capturedLogger()
    logger.info({ accessToken: ACCESS_TOKEN }, 'top level')
    logger.info({ body: { accessToken: ACCESS_TOKEN, expiresOn: '2030-01-01' } }, 'nested')
    t.match(logs.records[0], { accessToken: CENSOR })
    t.match(logs.records[1], { body: { accessToken: CENSOR, expiresOn: '2030-01-01' } })
    t.same(logs.leaks(), [])
  })

  t.test('a token field, at the top level and one level down', async (t) => {
    const { logger, logs } = capturedLogger()
    logger.info({ token: ACCESS_TOKEN }, 'top level')
    logger.info({ result: { token: ACCESS_TOKEN } }, 'nested')
    t.match(logs.records[0], { token: CENSOR })
    t.match(logs.records[1], { result: { token: CENSOR } })
    t.same(logs.leaks(), [])
  })

  t.test('in a child logger', async (t) => {
    const { logger, logs } = capturedLogger()
    logger.child({ component: 'arm' }).warn({ token: ACCESS_TOKEN }, 'child')
    t.match(logs.records[0], { component: 'arm', token: CENSOR })
    t.same(logs.leaks(), [])
  })

  t.test('look-alike fields are kept', async (t) => {
    const { logger, logs } = capturedLogger()
    logger.info(
      { tokenFingerprint: '0123456789abcdef', tokenExpiresOn: '2030-01-01T00:00:00Z', scope: 'video' },
      'audit-like'
    )
    t.match(logs.records[0], {
      tokenFingerprint: '0123456789abcdef',
      tokenExpiresOn: '2030-01-01T00:00:00Z',
      scope: 'video'
    })
  })
})

t.test('the req serializer', async (t) => {
  t.test('keeps method, path and address; drops the query string and headers', async (t) => {
    const { logger, logs } = capturedLogger()
    const request = {
      method: 'GET',
      url: '/tokens/video/abc123?sig=query-secret-value&x=1',
      ip: '10.0.0.7',
      headers: { authorization: BEARER, cookie: 'session=cookie-secret-value' },
      query: { sig: 'query-secret-value' }
    } as unknown as FastifyRequest
    logger.info({ req: request }, 'request')
    t.same(logs.records[0]!.req, { method: 'GET', path: '/tokens/video/abc123', remoteAddress: '10.0.0.7' })
    t.notMatch(logs.raw[0], 'query-secret-value')
    t.notMatch(logs.raw[0], 'cookie-secret-value')
    t.same(logs.leaks(), [])
  })

  t.test('keeps a path without a query string as it is', async (t) => {
    const { logger, logs } = capturedLogger()
    logger.info({ req: { method: 'POST', url: '/tokens/account', ip: '::1', headers: {} } }, 'request')
    t.same(logs.records[0]!.req, { method: 'POST', path: '/tokens/account', remoteAddress: '::1' })
  })

  t.test('with a real Fastify request', async (t) => {
    const { logger, logs } = capturedLogger()
    // Fastify's own "incoming request" line logs { req: request } through the serializer.
    const app = Fastify({ loggerInstance: logger as FastifyBaseLogger })
    t.teardown(() => app.close())
    app.get('/tokens/video/:id', async () => ({ ok: true }))
    const response = await app.inject({
      method: 'GET',
      url: '/tokens/video/abc123?sig=query-secret-value',
      headers: { authorization: BEARER }
    })
    t.equal(response.statusCode, 200)
    const incoming = logs.records.find((record) => record.msg === 'incoming request')
    t.same(incoming?.req, { method: 'GET', path: '/tokens/video/abc123', remoteAddress: '127.0.0.1' })
    t.notMatch(logs.raw.join('\n'), 'query-secret-value')
    t.same(logs.leaks(), [])
  })
})

t.test('the err serializer', async (t) => {
  const { logger, logs } = capturedLogger()
  logger.error({ err: Object.assign(new Error('boom'), { code: 'ARM_ERROR' }) }, 'failed')
  t.match(logs.records[0], { err: { type: 'Error', message: 'boom', code: 'ARM_ERROR', stack: /boom/ } })
})

t.test('faultLog: an expected fault is warn with its code and no stack; a bug is error with its stack', async (t) => {
  const refused = Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:1'), { code: 'ECONNREFUSED' })
  t.same(faultLog(refused), { level: 'warn', fields: { code: 'ECONNREFUSED', problem: refused.message } })
  const unavailable = brokerError('ARM_UNAVAILABLE', { cause: refused, upstream: { status: 0 } })
  t.same(faultLog(unavailable), {
    level: 'warn',
    fields: { code: 'ARM_UNAVAILABLE', problem: refused.message, upstream: { status: 0 } }
  })
  const throttled = faultLog(brokerError('ARM_THROTTLED'))
  t.same(throttled, { level: 'warn', fields: { code: 'ARM_THROTTLED', problem: undefined } })
  for (const bug of [
    new TypeError('x is not a function'),
    brokerError('INTERNAL_ERROR'),
    brokerError('ARM_UNAVAILABLE', { cause: new RangeError('bad index') }),
    'a thrown string'
  ]) {
    t.same(faultLog(bug), { level: 'error', fields: { err: bug } }, String(bug))
  }
})
