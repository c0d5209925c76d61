import t from 'tap'
import { ArmError, codeForStatus, toArmError } from '../../src/emulator/arm-errors.js'

t.test('codeForStatus turns reason phrases into ARM-style codes', async (t) => {
  t.equal(codeForStatus(503), 'ServiceUnavailable')
  t.equal(codeForStatus(413), 'PayloadTooLarge')
  t.equal(codeForStatus(299), 'Unknown')
})

t.test('toArmError keeps ArmErrors and client errors, and hides the rest', async (t) => {
  const armError = new ArmError(404, 'ResourceNotFound', 'gone', { 'x-a': 'b' })
  t.equal(toArmError(armError), armError)
  t.same(armError.toBody(), { error: { code: 'ResourceNotFound', message: 'gone' } })
  t.match(toArmError(Object.assign(new Error('too big'), { statusCode: 413 })), {
    statusCode: 413,
    code: 'PayloadTooLarge',
    message: 'too big'
  })
  for (const error of [
    new Error('secret detail'),
    Object.assign(new Error('upstream'), { statusCode: 502 }),
    'text',
    null
  ]) {
    t.match(toArmError(error), {
      statusCode: 500,
      code: 'InternalServerError',
      message: 'The server encountered an internal error.'
    })
  }
})
