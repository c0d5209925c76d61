import t from 'tap'
import { parseRetryAfter } from '../src/retry-after.js'

t.test('Retry-After in delta-seconds or as an HTTP date', async (t) => {
  const now = Date.parse('2026-12-01T12:00:00Z')
  t.equal(parseRetryAfter('1', now), 1)
  t.equal(parseRetryAfter(' 30 ', now), 30)
  t.equal(parseRetryAfter('Tue, 01 Dec 2026 12:00:05 GMT', now), 5)
  t.equal(parseRetryAfter('Tue, 01 Dec 2026 11:00:00 GMT', now), 0, 'a date in the past: no wait')
  t.equal(parseRetryAfter('soon', now), undefined)
  t.equal(parseRetryAfter(null, now), undefined)
  t.equal(parseRetryAfter('-1', now), undefined, 'no negative waits')
})
