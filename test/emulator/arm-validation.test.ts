import { decodeJwt } from 'jose'
import t from 'tap'
import type { Test } from 'tap'
import {
  accountPath,
  arm,
  defaultAccount,
  generateToken,
  managementToken,
  send,
  startTestEmulator
} from './fixtures/helpers.js'
import type { Answer } from './fixtures/helpers.js'

let clock = Date.UTC(2026, 10, 1)
const emulator = await startTestEmulator(t, { now: () => clock, identityTokenLifetimeSeconds: 600 })
const account = defaultAccount(emulator)
const path = accountPath(account)
const token = await managementToken(emulator)

function armErrorCode (t: Test, answer: Answer, status: number, code: string) {
  t.equal(answer.status, status, `status ${status}`)
  t.equal(answer.json().error.code, code)
  t.type(answer.json().error.message, 'string')
  t.match(answer.headers['x-ms-request-id'], /^[0-9a-f-]{36}$/, 'has x-ms-request-id')
  t.match(answer.headers['x-ms-correlation-request-id'], /^[0-9a-f-]{36}$/, 'has a generated correlation id')
}

t.test('api-version', async (t) => {
  armErrorCode(t, await arm(emulator, 'GET', path, { token, apiVersion: null }), 400, 'MissingApiVersionParameter')
  armErrorCode(t, await arm(emulator, 'GET', path, { token, apiVersion: '' }), 400, 'MissingApiVersionParameter')
  const unsupported = await arm(emulator, 'GET', path, { token, apiVersion: '2022-08-01' })
  armErrorCode(t, unsupported, 400, 'InvalidApiVersionParameter')
  t.match(unsupported.json().error.message, '2024-01-01,2025-01-01,2025-03-01,2025-04-01')
  armErrorCode(
    t,
    await arm(emulator, 'GET', `${path}?api-version=2024-01-01&api-version=2025-01-01`, { token, apiVersion: null }),
    400,
    'InvalidApiVersionParameter'
  )
  for (const apiVersion of ['2024-01-01', '2025-01-01', '2025-03-01', '2025-04-01']) {
    t.equal((await arm(emulator, 'GET', path, { token, apiVersion })).status, 200, `${apiVersion} is supported`)
  }
})

t.test('bearer token', async (t) => {
  const missing = await arm(emulator, 'GET', path)
  armErrorCode(t, missing, 401, 'AuthenticationFailed')
  t.match(
    missing.headers['www-authenticate'],
    /^Bearer authorization_uri="https:\/\/login\.windows\.net\/", error="invalid_token"/
  )
  armErrorCode(
    t,
    await arm(emulator, 'GET', path, { headers: { authorization: `Basic ${token}` } }),
    401,
    'AuthenticationFailed'
  )
  armErrorCode(t, await arm(emulator, 'GET', path, { token: 'not-a-jwt' }), 401, 'InvalidAuthenticationToken')
  const foreign = await emulator.mintCallerToken('portal-bff', {
    claims: { aud: 'https://management.azure.com/', oid: 'x' }
  })
  armErrorCode(t, await arm(emulator, 'GET', path, { token: foreign }), 401, 'InvalidAuthenticationToken')
  const vaultToken = await managementToken(emulator, 'resource=https://vault.azure.net')
  const wrongAudience = await arm(emulator, 'GET', path, { token: vaultToken })
  armErrorCode(t, wrongAudience, 401, 'InvalidAuthenticationTokenAudience')
  t.match(wrongAudience.json().error.message, "'https://vault.azure.net'")
  for (const resource of ['https://management.azure.com/', 'https://management.core.windows.net/']) {
    const accepted = await managementToken(emulator, `resource=${resource}`)
    t.equal((await arm(emulator, 'GET', path, { token: accepted })).status, 200, `audience ${resource} is accepted`)
  }
})

t.test('expired bearer token', async (t) => {
  const shortLived = await managementToken(emulator)
  const exp = decodeJwt(shortLived).exp ?? 0
  t.equal(exp, clock / 1000 + 600, 'the identity token lifetime follows the fake clock')
  clock += 600_000
  const expired = await arm(emulator, 'GET', path, { token: shortLived })
  armErrorCode(t, expired, 401, 'ExpiredAuthenticationToken')
  t.match(expired.json().error.message, new Date(exp * 1000).toISOString())
})

t.test('subscription, resource group and account', async (t) => {
  const fresh = await managementToken(emulator)
  const other = '00000000-0000-4000-8000-000000000000'
  armErrorCode(
    t,
    await arm(emulator, 'GET', path.replace(account.subscriptionId, 'not-a-guid'), { token: fresh }),
    400,
    'InvalidSubscriptionId'
  )
  armErrorCode(
    t,
    await arm(emulator, 'GET', path.replace(account.subscriptionId, other), { token: fresh }),
    404,
    'SubscriptionNotFound'
  )
  armErrorCode(
    t,
    await arm(emulator, 'GET', path.replace(account.resourceGroup, 'other-rg'), { token: fresh }),
    404,
    'ResourceGroupNotFound'
  )
  const missingAccount = await arm(emulator, 'GET', path.replace(/accounts\/.*$/, 'accounts/other'), { token: fresh })
  armErrorCode(t, missingAccount, 404, 'ResourceNotFound')
  t.match(missingAccount.json().error.message, "'Microsoft.VideoIndexer/accounts/other'")
  const missingPost = await arm(
    emulator,
    'POST',
    `${path.replace(/accounts\/.*$/, 'accounts/other')}/generateRestrictedViewerAccessToken`,
    {
      token: fresh,
      body: { scope: 'Account' }
    }
  )
  armErrorCode(t, missingPost, 404, 'ResourceNotFound')

  const shouting =
    `/SUBSCRIPTIONS/${account.subscriptionId.toUpperCase()}` +
    `/RESOURCEGROUPS/${account.resourceGroup.toUpperCase()}` +
    `/PROVIDERS/microsoft.videoindexer/ACCOUNTS/${account.accountName.toUpperCase()}`
  const found = await arm(emulator, 'GET', shouting, { token: fresh })
  t.equal(found.status, 200, 'names and path segments match case-insensitively')
  t.equal(found.json().id, path, 'the answer uses canonical casing')
  t.equal(
    (
      await arm(emulator, 'POST', `${shouting}/GenerateRestrictedViewerAccessToken`, {
        token: fresh,
        body: { scope: 'Account' }
      })
    ).status,
    200
  )
})

t.test('restricted viewer parameters', async (t) => {
  const fresh = await managementToken(emulator)
  const invalid = [
    {},
    [],
    'null',
    { scope: 'Everything' },
    { scope: 'video', videoId: 'a' },
    { scope: 'Video' },
    { scope: 'Video', videoId: '' },
    { scope: 'Video', videoId: 7 },
    { scope: 'Project' },
    { scope: 'Project', projectId: ['p'] }
  ]
  for (const body of invalid) armErrorCode(t, await generateToken(emulator, fresh, body), 400, 'InvalidInput')
  armErrorCode(
    t,
    await arm(emulator, 'POST', `${path}/generateRestrictedViewerAccessToken`, { token: fresh }),
    400,
    'InvalidInput'
  )
  armErrorCode(t, await generateToken(emulator, fresh, '{"scope":'), 400, 'InvalidRequestContent')
  armErrorCode(
    t,
    await generateToken(emulator, fresh, 'scope=Account', { headers: { 'content-type': 'text/plain' } }),
    415,
    'UnsupportedMediaType'
  )
  const untyped = await send(
    `${emulator.armEndpoint}${path}/generateRestrictedViewerAccessToken?api-version=2024-01-01`,
    {
      method: 'POST',
      headers: { authorization: `Bearer ${fresh}` },
      body: '{"scope":"Account"}',
      ca: emulator.caCertPem
    }
  )
  armErrorCode(t, untyped, 415, 'UnsupportedMediaType')

  const project = await generateToken(
    emulator,
    fresh,
    { scope: 'Project', projectId: 'p-1' },
    { headers: { 'content-type': 'application/merge-patch+json' } }
  )
  t.equal(project.status, 200)
  t.match(decodeJwt(project.json().accessToken), { Scope: 'Project', ProjectId: 'p-1', VideoId: undefined })
  const wholeAccount = await generateToken(emulator, fresh, { scope: 'Account', videoId: 'ignored' })
  t.match(decodeJwt(wholeAccount.json().accessToken), { Scope: 'Account', VideoId: undefined, ProjectId: undefined })
  const tooLarge = await generateToken(
    emulator,
    fresh,
    JSON.stringify({ scope: 'Account', pad: 'x'.repeat(1_100_000) })
  )
  armErrorCode(t, tooLarge, 413, 'PayloadTooLarge')
})

t.test('unknown ARM routes answer in ARM shape and are counted', async (t) => {
  emulator.reset()
  const answer = await arm(
    emulator,
    'GET',
    `/subscriptions/${account.subscriptionId}/providers/Microsoft.VideoIndexer/accounts`
  )
  armErrorCode(t, answer, 404, 'InvalidResourceType')
  t.same(emulator.counters().arm, {
    generateRestrictedViewerAccessToken: 0,
    accountsGet: 0,
    total: 1,
    byStatus: { 404: 1 },
    traceparents: []
  })
})

t.test('counters count rejected requests by status', async (t) => {
  const fresh = await managementToken(emulator)
  emulator.reset()
  await arm(emulator, 'GET', path)
  await arm(emulator, 'GET', path, { token: fresh, apiVersion: null })
  await generateToken(emulator, 'bad')
  t.same(emulator.counters().arm, {
    generateRestrictedViewerAccessToken: 1,
    accountsGet: 2,
    total: 3,
    byStatus: { 400: 1, 401: 2 },
    traceparents: []
  })
})

t.test('several accounts', async (t) => {
  const second = { ...account, accountName: 'second', accountId: '11111111-1111-4111-8111-111111111111' }
  const multi = await startTestEmulator(t, { accounts: [account, second] })
  const answer = await arm(multi, 'GET', accountPath(second), { token: await managementToken(multi) })
  t.equal(answer.json().properties.accountId, second.accountId)
})

t.test('the traceparent of each ARM request is recorded, the latest 50', async (t) => {
  emulator.reset()
  for (let i = 0; i < 52; i++) {
    const traceparent = `00-${i.toString(16).padStart(32, '0')}-00f067aa0ba902b7-01`
    await arm(emulator, 'GET', path, { token, headers: { traceparent } })
  }
  await arm(emulator, 'GET', path, { token })
  const { traceparents } = emulator.counters().arm
  t.equal(traceparents.length, 50)
  t.equal(traceparents[0], `00-${(2).toString(16).padStart(32, '0')}-00f067aa0ba902b7-01`, 'the oldest go first')
  t.equal(traceparents.at(-1), `00-${(51).toString(16).padStart(32, '0')}-00f067aa0ba902b7-01`)
})
