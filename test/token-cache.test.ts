import { SignJWT } from 'jose'
import t from 'tap'
import { readExpiry } from '../src/avi-token.js'
import { createTokenCache, type TokenCacheOptions } from '../src/token-cache.js'
import {
  accountKey,
  tokenKey,
  type Account,
  type EvictedKeys,
  type Eviction,
  type MintedToken,
  type TokenRequest
} from '../src/token-source.js'
import { fakeClock } from './support/fake-clock.js'
import { aviToken } from './support/tokens.js'

const MIN_REMAINING = 300
const REFRESH_AHEAD = 900

type Minted = Omit<MintedToken, 'expiresAt'>
const ACCOUNT: Account = { alias: 'default', subscriptionId: 'sub', resourceGroup: 'rg', name: 'account' }
const request = (id: string): TokenRequest => ({ account: ACCOUNT, scope: 'video', id })

function setup (overrides: Partial<TokenCacheOptions> = {}) {
  const clock = fakeClock()
  const refreshErrors: unknown[] = []
  // The tier behind the cache mints with whatever the test hands the next get(); as ARM's tier does,
  // it reads each token's exp.
  let next: () => Promise<Minted> = () => Promise.reject(new Error('no mint given'))
  const priorities: Array<TokenRequest['priority']> = []
  const tokenCache = createTokenCache({
    source: {
      get: ({ priority }) => {
        priorities.push(priority)
        return next().then((minted) => ({ ...minted, expiresAt: readExpiry(minted.accessToken) }))
      }
    },
    maxEntries: 100,
    minRemainingSeconds: MIN_REMAINING,
    refreshAheadSeconds: REFRESH_AHEAD,
    clock,
    onRefreshError: (_key, error) => refreshErrors.push(error),
    fingerprint: (accessToken) => ({ value: `fp:${accessToken.length}`, keyId: 'key-1' }),
    refreshJitter: () => 0,
    ...overrides
  })
  const cache = {
    get (id: string, mint: () => Promise<Minted>) {
      next = mint
      return tokenCache.get(request(id))
    },
    evict: (id?: string) => tokenCache.evict(id === undefined ? { account: ACCOUNT } : request(id)),
    get size () {
      return tokenCache.size
    }
  }
  let mints = 0
  const started: Array<Promise<unknown>> = []
  /** Mints a token living `lifetime` seconds from the fake now. */
  const mint =
    (lifetime = 3600) =>
      (): Promise<Minted> => {
        const n = ++mints
        const minted = aviToken(Math.floor(clock.now() / 1000) + lifetime, { n }).then((accessToken) => ({
          accessToken,
          armRequestId: `arm-${n}`
        }))
        started.push(minted)
        return minted
      }
  /** Waits for every mint started so far, and for the cache to store its result. */
  const settled = async () => {
    await Promise.allSettled(started)
    await new Promise((resolve) => setImmediate(resolve))
  }
  return { clock, cache, mint, refreshErrors, settled, priorities, mints: () => mints }
}

t.test('a miss mints, a repeat is a hit with no new mint', async (t) => {
  const { cache, mint, mints } = setup()
  const first = await cache.get('k', mint())
  const second = await cache.get('k', mint())
  t.equal(first.cache, 'miss')
  t.equal(second.cache, 'hit')
  t.equal(second.token.accessToken, first.token.accessToken)
  t.equal(second.token.armRequestId, 'arm-1')
  t.equal(mints(), 1)
  t.equal(cache.size, 1)
})

t.test('the fingerprint is worked out once per minted token and kept with it', async (t) => {
  const fingerprinted: string[] = []
  const { cache, mint } = setup({
    fingerprint: (accessToken) => {
      fingerprinted.push(accessToken)
      return { value: `fp-${fingerprinted.length}`, keyId: 'key-1' }
    }
  })
  const first = await cache.get('k', mint())
  const second = await cache.get('k', mint())
  t.equal(first.token.fingerprint, 'fp-1')
  t.equal(first.token.fingerprintKeyId, 'key-1', 'with the id of the key that made it')
  t.equal(second.token.fingerprint, 'fp-1', 'a hit reuses it')
  t.same(fingerprinted, [first.token.accessToken])
  t.equal((await cache.get('other', mint())).token.fingerprint, 'fp-2', 'another token has its own')
})

t.test('the entry lives until exp minus the minimum remaining life, never past it', async (t) => {
  const { clock, cache, mint, mints } = setup({ refreshAheadSeconds: 0 })
  const first = await cache.get('k', mint())
  t.equal(first.token.expiresAt, clock.now() + 3600_000)
  clock.advance((3600 - MIN_REMAINING) * 1000 - 1)
  t.equal((await cache.get('k', mint())).cache, 'hit', 'still served 1 ms before the limit')
  clock.advance(1)
  const after = await cache.get('k', mint())
  t.equal(after.cache, 'miss', 'at the limit the token is no longer served')
  t.not(after.token.accessToken, first.token.accessToken)
  t.equal(mints(), 2)
})

t.test('a hit inside the refresh-ahead window returns at once and refreshes once in the background', async (t) => {
  const { clock, cache, mint, mints, settled } = setup()
  const first = await cache.get('k', mint())
  clock.advance((3600 - MIN_REMAINING - REFRESH_AHEAD) * 1000)
  const refreshing = await cache.get('k', mint())
  t.equal(refreshing.cache, 'refresh')
  t.equal(refreshing.token.accessToken, first.token.accessToken, 'the cached token is returned at once')
  const during = await cache.get('k', mint())
  t.equal(during.cache, 'hit', 'a second hit while refreshing starts no second refresh')
  await settled()
  t.equal(mints(), 2)
  const after = await cache.get('k', mint())
  t.equal(after.cache, 'hit')
  t.not(after.token.accessToken, first.token.accessToken, 'the refreshed token replaces the old one')
})

t.test('a failed refresh keeps the still-valid token and reports the error', async (t) => {
  const { clock, cache, mint, refreshErrors } = setup()
  const first = await cache.get('k', mint())
  clock.advance((3600 - MIN_REMAINING - REFRESH_AHEAD) * 1000)
  const failing = async (): Promise<MintedToken> => {
    throw new Error('ARM down')
  }
  t.equal((await cache.get('k', failing)).cache, 'refresh')
  await new Promise((resolve) => setImmediate(resolve))
  t.equal(refreshErrors.length, 1)
  const again = await cache.get('k', mint())
  t.equal(again.token.accessToken, first.token.accessToken, 'still served')
})

t.test('100 concurrent misses for one key make one mint', async (t) => {
  const { cache, mint, mints } = setup()
  const results = await Promise.all(Array.from({ length: 100 }, () => cache.get('k', mint())))
  t.equal(mints(), 1)
  t.equal(results.filter((r) => r.cache === 'miss').length, 1)
  t.equal(results.filter((r) => r.cache === 'coalesced').length, 99)
  t.equal(new Set(results.map((r) => r.token.accessToken)).size, 1)
})

t.test('failures are shared by coalesced callers and never cached', async (t) => {
  const { cache, mint, mints } = setup()
  let failures = 0
  const failing = async (): Promise<MintedToken> => {
    failures++
    throw new Error('boom')
  }
  const results = await Promise.allSettled([cache.get('k', failing), cache.get('k', failing)])
  t.same(
    results.map((r) => r.status),
    ['rejected', 'rejected']
  )
  t.equal(failures, 1)
  t.equal(cache.size, 0)
  t.equal((await cache.get('k', mint())).cache, 'miss', 'the next request mints again')
  t.equal(mints(), 1)
})

t.test('a token whose exp cannot be read is assumed to live 3600 s from issue', async (t) => {
  const { clock, cache } = setup()
  const garbage = await cache.get('a', async () => ({ accessToken: 'not-a-jwt', armRequestId: undefined }))
  t.equal(garbage.token.expiresAt, clock.now() + 3600_000)
  const noExp = await new SignJWT({ sub: 'x' }).setProtectedHeader({ alg: 'HS256' }).sign(new Uint8Array(32))
  const withoutExp = await cache.get('b', async () => ({ accessToken: noExp, armRequestId: undefined }))
  t.equal(withoutExp.token.expiresAt, clock.now() + 3600_000)
})

t.test('a token that expires too soon to serve is an error and is not cached', async (t) => {
  const { cache, mint } = setup()
  await t.rejects(cache.get('k', mint(MIN_REMAINING)), { code: 'ARM_ERROR', statusCode: 502 })
  t.equal(cache.size, 0)
})

t.test('the cache is bounded by maxEntries', async (t) => {
  const { cache, mint } = setup({ maxEntries: 3 })
  for (const key of ['a', 'b', 'c', 'd', 'e']) await cache.get(key, mint())
  t.equal(cache.size, 3)
  t.equal((await cache.get('a', mint())).cache, 'miss', 'the least recently used entry was evicted')
})

t.test('failed background refreshes back off exponentially per key, then retry', async (t) => {
  const { clock, cache, mint, refreshErrors } = setup({ random: () => 1 })
  await cache.get('k', mint())
  clock.advance((3600 - MIN_REMAINING - REFRESH_AHEAD) * 1000)
  let attempts = 0
  const failing = async (): Promise<MintedToken> => {
    attempts++
    throw new Error('ARM down')
  }
  const settle = () => new Promise((resolve) => setImmediate(resolve))
  t.equal((await cache.get('k', failing)).cache, 'refresh')
  await settle()
  t.equal((await cache.get('k', failing)).cache, 'hit', 'inside the first backoff (1 s): no new attempt')
  clock.advance(1_000)
  t.equal((await cache.get('k', failing)).cache, 'refresh', 'after it, one more attempt')
  await settle()
  clock.advance(1_000)
  t.equal((await cache.get('k', failing)).cache, 'hit', 'the second backoff is 2 s')
  clock.advance(1_000)
  t.equal((await cache.get('k', failing)).cache, 'refresh')
  await settle()
  t.equal(attempts, 3)
  t.equal(refreshErrors.length, 3)
  t.equal((await cache.get('k', mint())).cache, 'hit')
  clock.advance(4_000)
  t.equal((await cache.get('k', mint())).cache, 'refresh', 'a later attempt can succeed')
})

t.test('evict drops one key or all', async (t) => {
  const { cache, mint } = setup()
  await cache.get('a', mint())
  await cache.get('b', mint())
  t.equal(await cache.evict('a'), 1)
  t.equal(await cache.evict('a'), 0)
  t.equal(await cache.evict(), 1)
  t.equal(cache.size, 0)
})

t.test('a mint in flight when an eviction arrives is served to its callers but not kept', async (t) => {
  const { cache, mint, mints } = setup()
  let release = () => {}
  const gate = new Promise<void>((resolve) => {
    release = resolve
  })
  const inFlight = cache.get('k', () => gate.then(mint()))
  await cache.evict('k')
  release()
  t.equal((await inFlight).cache, 'miss')
  t.equal(cache.size, 0, 'what it minted may be the evicted token, read from the shared tier')
  t.equal((await cache.get('k', mint())).cache, 'miss')
  t.equal(mints(), 2)
})

t.test('evictions go to a shared tier, and what the fleet evicted is dropped here by key', async (t) => {
  const other: Account = { ...ACCOUNT, subscriptionId: 'other-sub' }
  let tell: (keys: EvictedKeys) => void = () => {}
  const forwarded: Eviction[] = []
  let n = 0
  const tokenCache = createTokenCache({
    source: {
      get: async () => {
        const accessToken = await aviToken(Math.floor(Date.now() / 1000) + 3600, { n: ++n })
        return { accessToken, expiresAt: readExpiry(accessToken), armRequestId: undefined }
      },
      evict: async (eviction) => {
        forwarded.push(eviction)
        return 5
      },
      onEvicted: (listener) => {
        tell = listener
      }
    },
    maxEntries: 100,
    minRemainingSeconds: MIN_REMAINING,
    refreshAheadSeconds: REFRESH_AHEAD,
    clock: { now: () => Date.now() },
    onRefreshError: () => {},
    fingerprint: () => ({ value: 'fp', keyId: 'key-1' })
  })
  const fill = () =>
    Promise.all([request('a'), request('b'), { account: other, scope: 'video' as const, id: 'a' }].map((r) =>
      tokenCache.get(r)))
  await fill()
  t.equal(await tokenCache.evict(request('a')), 5, 'the larger of the local and the shared count')
  t.same(forwarded, [request('a')])
  t.equal(tokenCache.size, 2)
  tell({ token: tokenKey(request('b')) })
  t.equal(tokenCache.size, 1, 'an eviction made at another replica')
  await fill()
  tell({ account: accountKey(ACCOUNT) })
  t.equal(tokenCache.size, 1, "every token of one account, and not another account's")
  t.equal((await tokenCache.get({ account: other, scope: 'video', id: 'a' })).cache, 'hit')
  tell({ all: true })
  t.equal(tokenCache.size, 0, 'everything, after missed evictions')
})

t.test('a refresh is a background mint; a miss is a caller\'s', async (t) => {
  const { clock, cache, mint, settled, priorities } = setup()
  await cache.get('k', mint())
  clock.advance((3600 - MIN_REMAINING - REFRESH_AHEAD) * 1000)
  t.equal((await cache.get('k', mint())).cache, 'refresh')
  await settled()
  t.same(priorities, [undefined, 'background'], 'the gate serves callers first and refreshes from spare budget')
})

t.test('refreshes are spread over the refresh-ahead window, each token at its own jittered point', async (t) => {
  const jitters = [0.5, 1]
  const { clock, cache, mint, settled } = setup({ refreshJitter: () => jitters.shift() as number })
  await cache.get('half', mint())
  await cache.get('late', mint())
  const windowStart = (3600 - MIN_REMAINING - REFRESH_AHEAD) * 1000
  clock.advance(windowStart)
  t.equal((await cache.get('half', mint())).cache, 'hit', 'not yet due at the start of the window')
  t.equal((await cache.get('late', mint())).cache, 'hit')
  clock.advance(REFRESH_AHEAD * 1000 * 0.375)
  t.equal((await cache.get('half', mint())).cache, 'refresh', 'due at 0.5 × 3/4 of the window')
  t.equal((await cache.get('late', mint())).cache, 'hit', 'the other one is due later')
  clock.advance(REFRESH_AHEAD * 1000 * 0.375)
  t.equal((await cache.get('late', mint())).cache, 'refresh', 'due at 3/4: a quarter is left for retries')
  await settled()
})
