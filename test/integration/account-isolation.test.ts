// Two brokers of accounts with the same name and resource group in different subscriptions, sharing
// one Redis and one encryption key: neither is ever served the other's token.
import { randomBytes } from 'node:crypto'
import { writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { Redis } from 'ioredis'
import { decodeJwt } from 'jose'
import t from 'tap'
import { DEFAULT_ACCOUNT, type EmulatorAccount } from '../../src/emulator/accounts.js'
import { build, emulatorFor } from '../helper.js'
import { missingRedis, startRedis } from '../support/redis-server.js'

if (!missingRedis(t)) await main()

async function main (): Promise<void> {
  const other: EmulatorAccount = {
    ...DEFAULT_ACCOUNT,
    subscriptionId: '0f3c1d52-7a44-4b1e-9c0e-2d6b8e4f1a37',
    accountId: '9b1e4f2a-5c3d-4e6f-8a7b-0c1d2e3f4a5b'
  }
  const emulator = await emulatorFor(t, { accounts: [DEFAULT_ACCOUNT, other] })
  const redisServer = await startRedis(t)
  const redis = new Redis(redisServer.url, { enableOfflineQueue: false, maxRetriesPerRequest: 0 })
  redis.on('error', () => {})
  t.teardown(() => redis.disconnect())
  await new Promise((resolve) => redis.once('ready', resolve))
  const shared = {
    REDIS_URL: redisServer.url,
    CACHE_ENCRYPTION_KEY: `k1:${randomBytes(32).toString('base64')}`
  }
  const broker = (account: EmulatorAccount) =>
    build(t, { emulator, redis, env: { ...shared, AVI_SUBSCRIPTION_ID: account.subscriptionId } })
  const portal = await emulator.mintCallerToken('portal-bff')
  const accountIdOf = (body: string) => decodeJwt((JSON.parse(body) as { accessToken: string }).accessToken).AccountId

  t.test('each broker is served a token of its own account, from its own Redis key', async (t) => {
    const first = await broker(DEFAULT_ACCOUNT)
    const second = await broker(other)
    const a = await first.request({ url: '/tokens/video/same-id', token: portal })
    t.equal(a.statusCode, 200)
    t.equal(accountIdOf(a.body), DEFAULT_ACCOUNT.accountId)
    const b = await second.request({ url: '/tokens/video/same-id', token: portal })
    t.equal(b.statusCode, 200)
    t.equal(accountIdOf(b.body), other.accountId, "the second broker was not served the first one's token")
    t.equal((await redis.keys('vi-token-broker:token:*')).length, 2, 'one key per account')
  })

  t.test("a value moved to the other account's key does not open: the seal is bound to the account", async (t) => {
    const keys = await redis.keys('vi-token-broker:token:*')
    t.equal(keys.length, 2)
    const [one, two] = keys as [string, string]
    const [valueOne, valueTwo] = (await redis.mget(one, two)) as [string, string]
    await redis.set(one, valueTwo, 'KEEPTTL')
    await redis.set(two, valueOne, 'KEEPTTL')
    // Fresh brokers, so nothing is served from a process's memory.
    for (const account of [DEFAULT_ACCOUNT, other]) {
      const fresh = await broker(account)
      const response = await fresh.request({ url: '/tokens/video/same-id', token: portal })
      t.equal(response.statusCode, 200)
      t.equal(accountIdOf(response.body), account.accountId)
      t.ok(
        fresh.logs.records.some((r) => r.msg === 'a shared cache value failed to open; treated as a miss'),
        "the other account's value was refused"
      )
    }
  })

  t.test('one broker serving both accounts by alias: tokens never cross in its memory or in Redis', async (t) => {
    await redis.flushall()
    const file = join(t.testdir({}), 'accounts.json')
    const entry = (account: EmulatorAccount) => ({
      subscriptionId: account.subscriptionId,
      resourceGroup: account.resourceGroup,
      accountName: account.accountName
    })
    const accounts = { first: entry(DEFAULT_ACCOUNT), second: entry(other) }
    writeFileSync(file, JSON.stringify({ default: 'first', accounts }))
    const env = {
      ...shared,
      ACCOUNTS_FILE: file,
      AVI_SUBSCRIPTION_ID: undefined,
      AVI_RESOURCE_GROUP: undefined,
      AVI_ACCOUNT_NAME: undefined
    }
    const policy = { callers: { 'portal-bff': { allow: [{ scope: 'video', account: '*' }] } } }
    const both = await build(t, { emulator, redis, env, policy })
    for (let round = 0; round < 2; round++) {
      const first = await both.request({ url: '/accounts/first/tokens/video/same-id', token: portal })
      const second = await both.request({ url: '/accounts/second/tokens/video/same-id', token: portal })
      t.equal(accountIdOf(first.body), DEFAULT_ACCOUNT.accountId, `round ${round}: first`)
      t.equal(accountIdOf(second.body), other.accountId, `round ${round}: second`)
      const byDefault = await both.request({ url: '/tokens/video/same-id', token: portal })
      t.equal(accountIdOf(byDefault.body), DEFAULT_ACCOUNT.accountId)
    }
    t.same(both.logs.audits.slice(-3).map((a) => a.cache), ['hit', 'hit', 'hit'], 'the second round came from memory')
    t.equal((await redis.keys('vi-token-broker:token:*')).length, 2, 'one Redis key per account')
    // A second replica with the same accounts is served each account's token from Redis.
    const replica = await build(t, { emulator, redis, env, policy })
    const before = emulator.counters().arm.generateRestrictedViewerAccessToken
    const fromReplica = async (alias: string) =>
      accountIdOf((await replica.request({ url: `/accounts/${alias}/tokens/video/same-id`, token: portal })).body)
    t.equal(await fromReplica('second'), other.accountId)
    t.equal(await fromReplica('first'), DEFAULT_ACCOUNT.accountId)
    t.equal(emulator.counters().arm.generateRestrictedViewerAccessToken, before, 'both from Redis, no new mint')
  })
}
