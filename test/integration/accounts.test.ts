// Two accounts in two subscriptions behind one broker (ACCOUNTS_FILE), against the emulator's real ARM:
// per-alias routes and policy, Accounts_Get metadata in the answers, and ARM holds per subscription.
import { writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { decodeJwt } from 'jose'
import t from 'tap'
import { DEFAULT_ACCOUNT, type EmulatorAccount } from '../../src/emulator/accounts.js'
import { build, emulatorFor } from '../helper.js'

const eu: EmulatorAccount = { ...DEFAULT_ACCOUNT, location: 'NorthEurope' }
const us: EmulatorAccount = {
  subscriptionId: '0f3c1d52-7a44-4b1e-9c0e-2d6b8e4f1a37',
  resourceGroup: 'media-us',
  accountName: 'contoso-vi-us',
  accountId: '9b1e4f2a-5c3d-4e6f-8a7b-0c1d2e3f4a5b',
  location: 'EastUS'
}
// A small write bucket with a slow refill: a few mints in one subscription reach ARM's 429.
const emulator = await emulatorFor(t, { accounts: [eu, us], writeLimits: { capacity: 4, refillPerSecond: 0.01 } })
const dir = t.testdir({})
const accountsFile = join(dir, 'accounts.json')
const entry = (account: EmulatorAccount) => ({
  subscriptionId: account.subscriptionId,
  resourceGroup: account.resourceGroup,
  accountName: account.accountName
})
const accounts = { 'eu-prod': entry(eu), 'us-prod': entry(us) }
writeFileSync(accountsFile, JSON.stringify({ default: 'eu-prod', accounts }))

const broker = await build(t, {
  emulator,
  env: {
    ACCOUNTS_FILE: accountsFile,
    AVI_SUBSCRIPTION_ID: undefined,
    AVI_RESOURCE_GROUP: undefined,
    AVI_ACCOUNT_NAME: undefined,
    ARM_MAX_RETRIES: '0'
  },
  policy: {
    callers: {
      'us-bff': { allow: [{ scope: 'video', account: 'us-prod' }] },
      'portal-bff': { allow: [{ scope: 'video' }] },
      'ops-bff': { allow: [{ scope: 'video', account: '*' }, { scope: 'account', account: 'us-prod' }] }
    }
  }
})
const usBff = await emulator.mintCallerToken('us-bff')
const portal = await emulator.mintCallerToken('portal-bff')
const ops = await emulator.mintCallerToken('ops-bff')
const get = async (url: string, token: string) => {
  const response = await broker.request({ url, token })
  return { status: response.statusCode, headers: response.headers, body: response.json() }
}
// Readiness does not wait for Accounts_Get; the answers carry the account once it has been read.
for (let i = 0; i < 200 && broker.logs.records.filter((r) => r.msg === 'arm account read').length < 2; i++) {
  await new Promise((resolve) => setTimeout(resolve, 25))
}

t.test('a caller allowed us-prod gets its video token, with the account id and lower-case location', async (t) => {
  const response = await get('/accounts/us-prod/tokens/video/v1', usBff)
  t.equal(response.status, 200)
  t.same(response.body.account, {
    alias: 'us-prod',
    accountName: us.accountName,
    accountId: us.accountId,
    location: 'eastus'
  })
  t.match(decodeJwt(response.body.accessToken), { AccountId: us.accountId, Scope: 'Video', VideoId: 'v1' })
  t.equal(
    response.body.embed.player.split('?')[0],
    `${emulator.webBaseUrl}/embed/player/${us.accountId}/v1/`,
    'the embed URL names the account id and the video'
  )
  t.equal(new URL(response.body.embed.insights).searchParams.get('location'), 'eastus')
  t.match(broker.logs.audits.at(-1), { account: us.accountName, alias: 'us-prod', status: 200 })
})

t.test('the same caller is refused eu-prod, by alias and through the default routes', async (t) => {
  const byAlias = await get('/accounts/eu-prod/tokens/video/v1', usBff)
  t.equal(byAlias.status, 403)
  t.match(broker.logs.audits.at(-1), { alias: 'eu-prod', reason: 'account_not_granted' })
  t.equal((await get('/tokens/video/v1', usBff)).status, 403)
  t.equal((await get('/accounts/us-prod/tokens/account', usBff)).status, 403, 'Account scope is not granted')
})

t.test('/tokens/video/v1 serves the default account; a rule without an account names only it', async (t) => {
  const response = await get('/tokens/video/v1', portal)
  t.equal(response.status, 200)
  t.match(response.body.account, { alias: 'eu-prod', accountId: eu.accountId, location: 'northeurope' })
  t.equal(decodeJwt(response.body.accessToken).AccountId, eu.accountId)
  t.equal((await get('/accounts/eu-prod/tokens/video/v1', portal)).body.accessToken, response.body.accessToken)
  t.equal((await get('/accounts/us-prod/tokens/video/v1', portal)).status, 403)
})

t.test('"*" grants videos of every account, but Account scope only where an alias is named', async (t) => {
  t.equal((await get('/accounts/eu-prod/tokens/video/v2', ops)).status, 200)
  t.equal((await get('/accounts/us-prod/tokens/video/v2', ops)).status, 200)
  const account = await get('/accounts/us-prod/tokens/account', ops)
  t.equal(account.status, 200)
  t.match(account.body, { scope: 'Account', account: { alias: 'us-prod' } })
  t.notOk('embed' in account.body, 'only Video scope has embed URLs')
  t.equal((await get('/tokens/account', ops)).status, 403)
})

t.test('an unknown alias is 404 UNKNOWN_ACCOUNT, audited with the alias asked for', async (t) => {
  const response = await get('/accounts/ap-prod/tokens/video/v1', ops)
  t.equal(response.status, 404)
  t.equal(response.body.error.code, 'UNKNOWN_ACCOUNT')
  t.match(broker.logs.audits.at(-1), { account: null, alias: 'ap-prod', code: 'UNKNOWN_ACCOUNT' })
  t.equal((await get('/accounts/US-PROD/tokens/video/v1', usBff)).status, 200, 'aliases are taken in lower case')
})

t.test('an embed URL for a video, with checked widget options', async (t) => {
  const response = await get('/accounts/us-prod/embed/insights/v1?widgets=people,keywords&tab=timeline', usBff)
  t.equal(response.status, 200)
  const url = new URL(response.body.url)
  t.equal(url.pathname, `/embed/insights/${us.accountId}/v1/`)
  t.equal(url.searchParams.get('widgets'), 'people,keywords')
  t.equal(url.searchParams.get('location'), 'eastus')
  t.match(response.body, { videoId: 'v1', account: { alias: 'us-prod', accountId: us.accountId } })
  const bad = await get('/accounts/us-prod/embed/player/v1?autoplay=maybe', usBff)
  t.equal(bad.status, 400)
  t.match(bad.body.error, { code: 'INVALID_EMBED_OPTION', message: /autoplay/ })
  const unknown = await get('/embed/player/v1?accessToken=x', portal)
  t.match(unknown.body.error, { code: 'INVALID_EMBED_OPTION', message: /accessToken/ })
  t.equal((await get('/embed/player/v1?t=30&captions=en-US', usBff)).status, 403, 'as a Video token of eu-prod')
  t.equal((await get('/embed/player/v1?t=30&captions=en-US', portal)).status, 200)
})

t.test("a 429 on one subscription holds that subscription's mints only", async (t) => {
  let throttled
  for (let i = 0; i < 10 && throttled === undefined; i++) {
    const response = await get(`/accounts/us-prod/tokens/video/hold-${i}`, usBff)
    if (response.status !== 200) throttled = response
  }
  t.equal(throttled?.status, 503)
  t.equal(throttled?.body.error.code, 'ARM_THROTTLED')
  t.ok(Number(throttled?.headers['retry-after']) > 5, "ARM's Retry-After is passed on")
  const before = emulator.counters().arm.generateRestrictedViewerAccessToken
  const held = await get('/accounts/us-prod/tokens/video/hold-next', usBff)
  t.equal(held.status, 503, 'us-prod is held')
  t.equal(emulator.counters().arm.generateRestrictedViewerAccessToken, before, 'without asking ARM')
  const other = await get('/accounts/eu-prod/tokens/video/free-1', ops)
  t.equal(other.status, 200, "eu-prod's subscription is not held")
  t.equal(emulator.counters().arm.generateRestrictedViewerAccessToken, before + 1)
})

t.test('no token or caller JWT in any log line', async (t) => {
  t.same(broker.logs.leaks(), [])
})
