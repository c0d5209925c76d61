import type { FastifyRequest } from 'fastify'
import t from 'tap'
import { callerOf } from '../src/caller.js'

t.test('callerOf gives the verified caller, and refuses a request that never was authenticated', async (t) => {
  t.equal(callerOf({ caller: 'portal-bff' } as FastifyRequest), 'portal-bff')
  t.throws(() => callerOf({ caller: null } as FastifyRequest), { code: 'INTERNAL_ERROR', statusCode: 500 })
})
