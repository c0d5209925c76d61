import t from 'tap'
import { brokerError, errors, isBrokerError, type ErrorCode } from '../src/errors.js'

const CODES = Object.keys(errors) as ErrorCode[]

t.test('the catalogue', async (t) => {
  t.ok(CODES.length > 0)
  for (const code of CODES) {
    const error = new errors[code]()
    t.equal(error.code, code, `${code}: the code is the catalogue key`)
    t.ok(
      error.statusCode !== undefined && error.statusCode >= 400 && error.statusCode <= 599,
      `${code}: a 4xx/5xx status (${error.statusCode})`
    )
    t.ok(error.message.trim().length > 0, `${code}: a non-empty message`)
  }
})

t.test('brokerError', async (t) => {
  t.test('builds the catalogued error', async (t) => {
    const error = brokerError('POLICY_DENIED')
    t.type(error, Error)
    t.type(error, errors.POLICY_DENIED)
    t.equal(error.code, 'POLICY_DENIED')
    t.equal(error.statusCode, 403)
    t.equal(error.message, 'The caller is not allowed this scope or id')
    t.notOk('cause' in error, 'no cause unless given')
    t.notOk('retryAfterSeconds' in error)
    t.notOk('details' in error)
    t.notOk('upstream' in error)
  })

  t.test('statuses of the main families', async (t) => {
    t.equal(brokerError('AUTH_REQUIRED').statusCode, 401)
    t.equal(brokerError('INVALID_ID').statusCode, 400)
    t.equal(brokerError('NOT_FOUND').statusCode, 404)
    t.equal(brokerError('INTERNAL_ERROR').statusCode, 500)
    t.equal(brokerError('ARM_ERROR').statusCode, 502)
    t.equal(brokerError('JWKS_UNAVAILABLE').statusCode, 503)
    t.equal(brokerError('ARM_TIMEOUT').statusCode, 504)
  })

  t.test('formats the message with args', async (t) => {
    const error = brokerError('MISSING_ID', { args: ['video'] })
    t.equal(error.message, 'This scope needs an id: /tokens/video/{id}')
    t.notOk('args' in error, 'args are not copied onto the error')
  })

  t.test('copies extras onto the error', async (t) => {
    const details = [{ code: 'INVALID_ID', message: 'bad id' }]
    const upstream = { status: 500, armRequestId: 'arm-1' }
    const error = brokerError('ARM_THROTTLED', { retryAfterSeconds: 7, details, upstream })
    t.equal(error.retryAfterSeconds, 7)
    t.same(error.details, details)
    t.same(error.upstream, upstream)
    t.equal(error.code, 'ARM_THROTTLED', 'extras do not change the code')
    t.equal(error.statusCode, 503, 'extras do not change the status')
  })

  t.test('keeps the cause', async (t) => {
    const cause = new Error('socket hang up')
    const error = brokerError('ARM_UNAVAILABLE', { cause })
    t.equal(error.cause, cause)
    t.equal(
      error.message,
      'Azure Resource Manager could not be reached; retry later',
      'the cause does not change the message'
    )
    t.equal(brokerError('INTERNAL_ERROR', { cause: 'a string cause' }).cause, 'a string cause')
  })

  t.test('each call builds a new error', async (t) => {
    const a = brokerError('AUTH_INVALID', { retryAfterSeconds: 1 })
    const b = brokerError('AUTH_INVALID')
    t.not(a, b)
    t.notOk('retryAfterSeconds' in b)
  })

  t.test('has a stack trace', async (t) => {
    t.match(brokerError('INTERNAL_ERROR').stack, /errors\.test\.ts/)
  })
})

t.test('isBrokerError', async (t) => {
  t.test('true for catalogue errors', async (t) => {
    for (const code of CODES) t.ok(isBrokerError(brokerError(code)), code)
    t.ok(isBrokerError(new errors.NOT_READY()), 'built directly from the catalogue')
  })

  t.test('false for plain errors', async (t) => {
    t.notOk(isBrokerError(new Error('plain')))
    t.notOk(isBrokerError(new TypeError('plain')))
  })

  t.test('false for errors with unknown or non-string codes', async (t) => {
    const withCode = (code: unknown) => Object.assign(new Error('x'), { code })
    t.notOk(isBrokerError(withCode('ECONNRESET')))
    t.notOk(isBrokerError(withCode('FST_JWT_AUTHORIZATION_TOKEN_INVALID')))
    t.notOk(isBrokerError(withCode('auth_invalid')), 'codes are case-sensitive')
    t.notOk(isBrokerError(withCode('toString')), 'inherited Object properties are not codes')
    t.notOk(isBrokerError(withCode('__proto__')))
    t.notOk(isBrokerError(withCode(401)))
    t.notOk(isBrokerError(withCode(undefined)))
  })

  t.test('false for values that are not errors', async (t) => {
    for (const value of [
      undefined,
      null,
      'AUTH_INVALID',
      401,
      {},
      { code: 'AUTH_INVALID', statusCode: 401, message: 'x' }
    ]) {
      t.notOk(isBrokerError(value), JSON.stringify(value) ?? String(value))
    }
  })
})
