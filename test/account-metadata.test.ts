import { pino } from 'pino'
import t from 'tap'
import { createAccountMetadata, parseAccountResource } from '../src/account-metadata.js'
import { brokerError } from '../src/errors.js'
import type { Account } from '../src/token-source.js'
import { fakeClock } from './support/fake-clock.js'
import { LogCapture } from './support/log-capture.js'
import { until } from './support/until.js'

const ACCOUNT_ID = '462af7c5-d1f6-4b91-86e3-8bc5e8a61574'
const account = (alias: string, name = `vi-${alias}`): Account => ({
  alias,
  subscriptionId: 'b04775c3-63fa-40f3-9430-139d2e5522d3',
  resourceGroup: 'rg',
  name
})

t.test("Accounts_Get's body: the account id, and the location in lower case without spaces", async (t) => {
  const body = { location: 'North Europe', properties: { accountId: ACCOUNT_ID.toUpperCase() } }
  t.same(parseAccountResource(JSON.stringify(body)), {
    accountId: ACCOUNT_ID,
    location: 'northeurope'
  })
  const bad = [
    '',
    'not json',
    '{}',
    JSON.stringify({ location: 'x', properties: { accountId: 'nope' } }),
    JSON.stringify({ location: 'no/where', properties: { accountId: ACCOUNT_ID } })
  ]
  for (const text of bad) {
    t.throws(() => parseAccountResource(text), { code: 'ARM_ERROR' }, text)
  }
})

t.test('a failed read is retried with backoff and counted, then kept; removed accounts are dropped', async (t) => {
  const clock = fakeClock()
  const logs = new LogCapture()
  const reads: string[] = []
  let failures = 2
  const store = createAccountMetadata({
    read: async (which) => {
      reads.push(which.alias)
      if (failures-- > 0) throw brokerError('ARM_UNAVAILABLE', { retryAfterSeconds: 5 })
      return { accountId: ACCOUNT_ID, location: 'eastus' }
    },
    clock,
    refreshMs: 60_000,
    retryBaseMs: 1,
    logger: pino({ level: 'debug' }, logs),
    onRead: (alias, result) => reads.push(`${alias}:${result}`),
    random: () => 1
  })
  t.teardown(() => store.close())
  const eu = account('eu')
  store.sync([eu])
  t.match(store.status([eu]), [{ alias: 'eu', metadata: null }])
  await until(() => store.get(eu) !== undefined)
  t.match(store.get(eu), { accountId: ACCOUNT_ID, location: 'eastus' })
  t.same(reads, ['eu', 'eu:failed', 'eu', 'eu:failed', 'eu', 'eu:ok'])
  t.equal(logs.records.filter((r) => r.msg === 'account metadata read failed; retrying').length, 2)
  clock.advance(1500)
  t.match(store.status([eu]), [{ alias: 'eu', accountName: 'vi-eu', metadata: { ageSeconds: 1.5 }, failedReads: 0 }])
  // The same identity under a new alias keeps what was read; an account no longer served is dropped.
  const renamed = { ...eu, alias: 'europe' }
  store.sync([renamed])
  t.ok(store.get(renamed))
  store.sync([])
  t.equal(store.get(renamed), undefined)
})

t.test('a read that settles after the account is dropped, or after close, changes nothing', async (t) => {
  const pending: Array<{ resolve: () => void; reject: (error: Error) => void }> = []
  const results: string[] = []
  const store = createAccountMetadata({
    read: () =>
      new Promise((resolve, reject) =>
        pending.push({ resolve: () => resolve({ accountId: ACCOUNT_ID, location: 'eastus' }), reject })
      ),
    clock: fakeClock(),
    refreshMs: 60_000,
    logger: pino({ level: 'silent' }),
    onRead: (alias, result) => results.push(`${alias}:${result}`)
  })
  const eu = account('eu')
  const us = account('us')
  store.sync([eu, us])
  store.sync([us])
  pending[0]?.reject(new Error('late failure'))
  store.close()
  pending[1]?.resolve()
  await new Promise((resolve) => setImmediate(resolve))
  t.same(results, [], 'neither late answer was counted')
  t.equal(store.get(us), undefined)
  t.match(store.status([eu]), [{ alias: 'eu', metadata: null, failedReads: 0 }], 'an account never read')
})
