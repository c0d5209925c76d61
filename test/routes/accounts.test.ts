// Several accounts in one app (fake ARM): metadata that is not read yet, status, explain, eviction per alias,
// and ACCOUNTS_FILE reloads (SIGHUP).
import { writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import type { HttpClient } from '@azure/core-rest-pipeline'
import t from 'tap'
import { build } from '../helper.js'
import { FAKE_ACCOUNT, fakeArm } from '../support/fake-arm.js'
import { aviToken, callerToken } from '../support/tokens.js'

const SUB = 'b04775c3-63fa-40f3-9430-139d2e5522d3'
const entry = (accountName: string) => ({ subscriptionId: SUB, resourceGroup: 'media', accountName })
const POLICY = {
  callers: {
    'portal-bff': { allow: [{ scope: 'video', account: '*' }] },
    'ops-bff': { allow: [], admin: true }
  }
}
const NO_AVI = { AVI_SUBSCRIPTION_ID: undefined, AVI_RESOURCE_GROUP: undefined, AVI_ACCOUNT_NAME: undefined }

/** Fake ARM whose Accounts_Get fails `failures` times before the usual answer. */
function armWithFailingReads (failures: number): HttpClient {
  const inner = fakeArm(async () => ({
    status: 200,
    body: { accessToken: await aviToken(Math.floor(Date.now() / 1000) + 3600) }
  }))
  let left = failures
  return {
    sendRequest: async (request) => {
      if (request.method === 'GET' && left-- > 0) {
        const bodyAsText = '{"error":{"code":"InternalServerError"}}'
        return { request, status: 500, headers: request.headers, bodyAsText }
      }
      return inner.client.sendRequest(request)
    }
  }
}

async function setup (t: Parameters<typeof build>[0], failures = 0, watch = false) {
  const file = join(t.testdir({}), 'accounts.json')
  await writeFile(file, JSON.stringify({ default: 'eu', accounts: { eu: entry('vi-eu'), us: entry('vi-us') } }))
  const built = await build(t, {
    watchPolicy: watch,
    env: { ...NO_AVI, ACCOUNTS_FILE: file },
    policy: POLICY,
    armHttpClient: armWithFailingReads(failures),
    accountMetadataRetryMs: 1
  })
  return { ...built, file, portal: await callerToken('portal-bff'), ops: await callerToken('ops-bff') }
}

type Setup = Awaited<ReturnType<typeof setup>>

/** Polls /status until every account's Accounts_Get has answered (5 s at most). */
async function metadataRead (request: Setup['request'], ops: string): Promise<void> {
  for (let i = 0; i < 200; i++) {
    const status = await request({ url: '/status', token: ops })
    if (status.json().accounts.every((a: { metadata: unknown }) => a.metadata !== null)) return
    await new Promise((resolve) => setTimeout(resolve, 25))
  }
}

t.test('until Accounts_Get answers: no account fields, embed URLs 503, failed reads counted', async (t) => {
  const { request, app, portal, ops } = await setup(t, 1_000_000)
  const token = await request({ url: '/accounts/us/tokens/video/v1', token: portal })
  t.equal(token.statusCode, 200)
  t.notOk('account' in token.json() || 'embed' in token.json(), 'omitted until known')
  const embed = await request({ url: '/accounts/us/embed/player/v1', token: portal })
  t.equal(embed.statusCode, 503)
  t.equal(embed.json().error.code, 'ACCOUNT_METADATA_PENDING')
  t.equal(embed.headers['retry-after'], '5')
  const metrics = await (await app.metricsRegistry()).metrics()
  t.match(metrics, /vi_broker_account_metadata_reads_total\{account="us",result="failed"\} [1-9]/)
  const status = await request({ url: '/status', token: ops })
  t.match(status.json().accounts, [
    { alias: 'eu', accountName: 'vi-eu', metadata: null },
    { alias: 'us', accountName: 'vi-us', metadata: null }
  ])
  t.ok(status.json().accounts[0].failedReads > 0)
})

t.test('once read: /status shows each account id, location and age; eviction and explain per alias', async (t) => {
  const { request, app, portal, ops, file } = await setup(t, 2)
  await metadataRead(request, ops)
  const status = await request({ url: '/status', token: ops })
  t.match(status.json().accounts, [
    { alias: 'eu', metadata: { accountId: FAKE_ACCOUNT.accountId, location: 'northeurope' }, failedReads: 0 },
    { alias: 'us', metadata: { accountId: FAKE_ACCOUNT.accountId, location: 'northeurope' } }
  ])
  await request({ url: '/accounts/us/tokens/video/v1', token: portal })
  await request({ url: '/tokens/video/v1', token: portal })
  t.same((await request({ method: 'DELETE', url: '/accounts/us/cache/video/v1', token: ops })).json(), { evicted: 1 })
  t.same((await request({ method: 'DELETE', url: '/accounts/us/cache', token: ops })).json(), { evicted: 0 })
  const evictDefault = await request({ method: 'DELETE', url: '/cache', token: ops })
  t.same(evictDefault.json(), { evicted: 1 }, 'the default account kept its own')
  const evictUnknown = await request({ method: 'DELETE', url: '/accounts/ap/cache', token: ops })
  t.equal(evictUnknown.json().error.code, 'UNKNOWN_ACCOUNT')
  const explain = (query: string) => request({ url: `/policy/explain?caller=portal-bff&scope=${query}`, token: ops })
  t.match((await explain('video&id=v1&account=us')).json(), { decision: 'allow' })
  t.match((await explain('video&id=v1&account=vi-us')).json(), { decision: 'allow' }, 'by ARM name too')
  t.match((await explain('account&account=us')).json(), { decision: 'deny', reason: 'scope_not_granted' })
  t.match((await explain('video&id=v1&account=ap')).json(), { decision: 'deny', reason: 'account_not_granted' })
  t.match((await explain('video&id=v1')).json(), { decision: 'allow' })

  // SIGHUP re-reads ACCOUNTS_FILE: a new alias appears; a bad file is rejected and the old accounts kept.
  await writeFile(file, JSON.stringify({ default: 'eu', accounts: { eu: entry('vi-eu'), ap: entry('vi-ap') } }))
  await app.reloadPolicy('SIGHUP')
  t.equal((await request({ url: '/accounts/ap/tokens/video/v1', token: portal })).statusCode, 200)
  t.equal((await request({ url: '/accounts/us/tokens/video/v1', token: portal })).statusCode, 404)
  await writeFile(file, JSON.stringify({ default: 'nowhere', accounts: {} }))
  await app.reloadPolicy('SIGHUP')
  t.equal((await request({ url: '/accounts/ap/tokens/video/v1', token: portal })).statusCode, 200, 'old accounts kept')
  const metrics = await (await app.metricsRegistry()).metrics()
  t.match(metrics, /vi_broker_accounts_reloads_total\{result="applied"\} 1/)
  t.match(metrics, /vi_broker_accounts_reloads_total\{result="rejected"\} 1/)
})

t.test('a batch of an alias: its items are of that account, with its fields and embed URLs', async (t) => {
  const { request, logs, portal, ops } = await setup(t)
  await metadataRead(request, ops)
  const post = (url: string) =>
    request({
      method: 'POST',
      url,
      token: portal,
      headers: { 'content-type': 'application/json' },
      payload: JSON.stringify({ requests: [{ scope: 'video', id: 'v1' }, { scope: 'account' }] })
    })
  const response = await post('/accounts/us/tokens/batch')
  t.equal(response.statusCode, 200)
  const [video, account] = response.json().results
  logs.secret(video.accessToken)
  t.match(video, { status: 200, accountName: 'vi-us', account: { alias: 'us', accountId: FAKE_ACCOUNT.accountId } })
  t.match(video.embed.player, /\/embed\/player\/.+\/v1\/\?accessToken=/)
  t.match(account, { status: 403, error: { code: 'POLICY_DENIED' } }, 'Account scope is granted per alias only')
  const items = logs.audits.filter((a) => a.batchId === response.json().batchId)
  t.same(items.map((a) => a.alias), ['us', 'us'], 'each record names the alias')
  const unknown = await post('/accounts/ap/tokens/batch')
  t.equal(unknown.statusCode, 404)
  t.equal(unknown.json().error.code, 'UNKNOWN_ACCOUNT')
  const byDefault = await post('/tokens/batch')
  t.match(byDefault.json().results[0], { accountName: 'vi-eu', account: { alias: 'eu' } })
  logs.secret(byDefault.json().results[0].accessToken)
})

t.test('a broker that watches its files re-reads ACCOUNTS_FILE when it changes', async (t) => {
  const { request, portal, file } = await setup(t, 0, true)
  t.equal((await request({ url: '/accounts/ap/tokens/video/v1', token: portal })).statusCode, 404)
  await writeFile(file, JSON.stringify({ default: 'eu', accounts: { eu: entry('vi-eu'), ap: entry('vi-ap') } }))
  let status = 404
  for (let i = 0; i < 200 && status !== 200; i++) {
    await new Promise((resolve) => setTimeout(resolve, 25))
    status = (await request({ url: '/accounts/ap/tokens/video/v1', token: portal })).statusCode
  }
  t.equal(status, 200, 'the new alias is served without a SIGHUP')
})

t.test('a token cached before Accounts_Get answers gains its account fields and embed URLs once it does', async (t) => {
  // Ten failed reads first, retried after 1, 2, 4 … ms (halved at most by jitter): at least a quarter second.
  const { request, portal, ops } = await setup(t, 10)
  const before = await request({ url: '/accounts/us/tokens/video/v1', token: portal })
  t.equal(before.statusCode, 200)
  t.notOk('embed' in before.json(), 'no embed URLs yet')
  await metadataRead(request, ops)
  const after = await request({ url: '/accounts/us/tokens/video/v1', token: portal })
  t.equal(after.json().accessToken, before.json().accessToken, 'the same cached token')
  t.match(after.json(), { account: { alias: 'us', accountId: FAKE_ACCOUNT.accountId, location: 'northeurope' } })
  t.match(after.json().embed.player, /\/embed\/player\/.+\/v1\/\?accessToken=.+&location=northeurope$/)
  t.equal(after.headers['content-type'], 'application/json; charset=utf-8')
})

t.test('an alias renamed by a reload answers with its new name, from the same cached token', async (t) => {
  const { request, app, portal, ops, file } = await setup(t)
  await metadataRead(request, ops)
  const before = await request({ url: '/accounts/us/tokens/video/v1', token: portal })
  t.match(before.json(), { account: { alias: 'us' } })
  await writeFile(file, JSON.stringify({ default: 'eu', accounts: { eu: entry('vi-eu'), na: entry('vi-us') } }))
  await app.reloadPolicy('SIGHUP')
  const after = await request({ url: '/accounts/na/tokens/video/v1', token: portal })
  t.equal(after.json().accessToken, before.json().accessToken, 'the same account, so the same cached token')
  t.match(after.json(), { accountName: 'vi-us', account: { alias: 'na' } })
})
