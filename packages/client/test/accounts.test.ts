// Two accounts behind one broker (ACCOUNTS_FILE): the client's `account` option reaches the alias's routes.
import { writeFileSync } from 'node:fs'
import { join } from 'node:path'
import t from 'tap'
import { DEFAULT_ACCOUNT, type EmulatorAccount } from '../../../src/emulator/accounts.js'
import { BrokerError, createBrokerClient } from '../src/index.js'
import { liveBroker } from './support/broker.js'

const us: EmulatorAccount = {
  subscriptionId: '0f3c1d52-7a44-4b1e-9c0e-2d6b8e4f1a37',
  resourceGroup: 'media-us',
  accountName: 'contoso-vi-us',
  accountId: '9b1e4f2a-5c3d-4e6f-8a7b-0c1d2e3f4a5b',
  location: 'EastUS'
}
const entry = ({ subscriptionId, resourceGroup, accountName }: EmulatorAccount) =>
  ({ subscriptionId, resourceGroup, accountName })
const accountsFile = join(t.testdir({}), 'accounts.json')
writeFileSync(accountsFile, JSON.stringify({
  default: 'eu-prod',
  accounts: { 'eu-prod': entry(DEFAULT_ACCOUNT), 'us-prod': entry(us) }
}))
const env = { AVI_SUBSCRIPTION_ID: undefined, AVI_RESOURCE_GROUP: undefined, AVI_ACCOUNT_NAME: undefined }
const live = await liveBroker(
  t,
  { ...env, ACCOUNTS_FILE: accountsFile },
  {
    emulator: { accounts: [DEFAULT_ACCOUNT, us] },
    policy: { callers: { 'us-bff': { allow: [{ scope: 'video', account: 'us-prod' }] } } }
  }
)
const jwt = await live.callerJwt('us-bff')
const broker = createBrokerClient({ baseUrl: live.url, credential: () => jwt })

t.test('a token and an embed URL of the account named, kept apart from the default account', async (t) => {
  const token = await broker.videoToken('v1', { account: 'us-prod' })
  live.secret(token.accessToken)
  t.equal(token.accountName, 'contoso-vi-us')
  const embed = await broker.embedUrl('player', 'v1', { account: 'us-prod' })
  live.secret(new URL(embed.url).searchParams.get('accessToken') ?? '')
  t.match(embed.url, `/embed/player/${us.accountId}/v1/`)
  const refused = await broker.videoToken('v1').catch((error: unknown) => error)
  t.ok(refused instanceof BrokerError && refused.code === 'POLICY_DENIED', 'the default account is not allowed')
})
