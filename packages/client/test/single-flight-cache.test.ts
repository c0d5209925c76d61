// The cache on its own (a pure unit: values with made-up expiries); the client's tests cover it against the broker.
import t from 'tap'
import { createSingleFlightCache } from '../src/single-flight-cache.js'

const cacheOf = (maxEntries = 10) =>
  createSingleFlightCache<{ v: string; expiresAt: number }>({ expiresAt: (value) => value.expiresAt, maxEntries })
const later = () => Date.now() + 60_000

t.test('set() keeps a fresh value, so get() does not load; a stale one is not kept', async (t) => {
  const cache = cacheOf()
  cache.set('fresh', { v: 'kept', expiresAt: later() })
  cache.set('stale', { v: 'old', expiresAt: Date.now() - 1 })
  const loads: string[] = []
  const load = (key: string) => async () => {
    loads.push(key)
    return { v: 'loaded', expiresAt: later() }
  }
  t.equal((await cache.get('fresh', load('fresh'))).v, 'kept')
  t.equal((await cache.get('stale', load('stale'))).v, 'loaded')
  t.same(loads, ['stale'])
})

t.test('when full, the oldest entry goes', async (t) => {
  const cache = cacheOf(2)
  for (const key of ['a', 'b', 'c']) cache.set(key, { v: key, expiresAt: later() })
  let loaded = 0
  const load = async () => ({ v: String(++loaded), expiresAt: later() })
  t.equal((await cache.get('c', load)).v, 'c')
  t.equal((await cache.get('b', load)).v, 'b')
  t.equal((await cache.get('a', load)).v, '1', 'a was dropped')
})

t.test('a failed load is dropped, and a later get loads again', async (t) => {
  const cache = cacheOf()
  await t.rejects(cache.get('k', async () => { throw new Error('no') }))
  t.equal((await cache.get('k', async () => ({ v: 'second', expiresAt: later() }))).v, 'second')
})

t.test('a failed load replaced meanwhile by set() does not remove the new value', async (t) => {
  const cache = cacheOf()
  let fail: (error: Error) => void = () => {}
  const failing = cache.get('k', () => new Promise((_resolve, reject) => { fail = reject }))
  cache.set('k', { v: 'from a batch', expiresAt: later() })
  fail(new Error('no'))
  await t.rejects(failing)
  t.equal((await cache.get('k', async () => ({ v: 'loaded', expiresAt: later() }))).v, 'from a batch')
})
