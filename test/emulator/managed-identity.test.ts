import { Writable } from 'node:stream'
import { ManagedIdentityCredential } from '@azure/identity'
import {
  bearerTokenAuthenticationPolicy,
  createDefaultHttpClient,
  createEmptyPipeline,
  createPipelineRequest,
  tlsPolicy
} from '@azure/core-rest-pipeline'
import { decodeJwt } from 'jose'
import { pino } from 'pino'
import t from 'tap'
import { accountPath, defaultAccount, startTestEmulator } from './fixtures/helpers.js'

// One identity scenario per file: MSAL keeps managed-identity state for the whole process.
const logLines: string[] = []
const logger = pino(
  { level: 'info' },
  new Writable({
    write (chunk, _encoding, done) {
      logLines.push(...String(chunk).split('\n').filter(Boolean))
      done()
    }
  })
)
const emulator = await startTestEmulator(t, { tokenLifetimeSeconds: 1800, logger })
process.env.IDENTITY_ENDPOINT = emulator.identityEndpoint
process.env.IDENTITY_HEADER = emulator.identityHeader
const credential = new ManagedIdentityCredential()
const seenTokens: string[] = []

t.test('ManagedIdentityCredential gets a management token from the App Service endpoint', async (t) => {
  const token = await credential.getToken('https://management.azure.com/.default')
  seenTokens.push(token.token)
  const claims = decodeJwt(token.token)
  t.equal(claims.aud, 'https://management.azure.com')
  t.equal(claims.idtyp, 'app')
  t.ok(Math.abs(token.expiresOnTimestamp - (Date.now() + 3600_000)) < 10_000, 'expires in about an hour')
  t.ok(emulator.counters().identity >= 1)
})

t.test('an ARM call through core-rest-pipeline with the bearer policy mints an AVI token', async (t) => {
  const pipeline = createEmptyPipeline()
  pipeline.addPolicy(tlsPolicy({ ca: emulator.caCertPem }))
  pipeline.addPolicy(bearerTokenAuthenticationPolicy({ credential, scopes: 'https://management.azure.com/.default' }))
  const client = createDefaultHttpClient()
  const account = defaultAccount(emulator)
  const request = createPipelineRequest({
    url: `${emulator.armEndpoint}${accountPath(account)}/generateRestrictedViewerAccessToken?api-version=2025-04-01`,
    method: 'POST',
    body: JSON.stringify({ scope: 'Video', videoId: '07ec9e38d4' })
  })
  request.headers.set('content-type', 'application/json')
  request.headers.set('x-ms-correlation-request-id', 'broker-correlation-1')
  const response = await pipeline.sendRequest(client, request)

  t.equal(response.status, 200)
  t.match(response.headers.get('x-ms-request-id'), /^[0-9a-f-]{36}$/)
  t.equal(response.headers.get('x-ms-correlation-request-id'), 'broker-correlation-1')
  t.equal(response.headers.get('x-ms-ratelimit-remaining-subscription-writes'), '199')
  const { accessToken } = JSON.parse(response.bodyAsText ?? '') as { accessToken: string }
  seenTokens.push(accessToken)
  t.ok(accessToken.length > 1150 && accessToken.length < 1350, `about 1,260 characters (${accessToken.length})`)
  const claims = decodeJwt(accessToken)
  t.match(claims, {
    iss: 'https://api.videoindexer.ai/',
    aud: 'https://api.videoindexer.ai/',
    AccountId: account.accountId,
    Permission: 'Reader',
    Scope: 'Video',
    VideoId: '07ec9e38d4'
  })
  t.ok(Math.abs((claims.exp ?? 0) - Date.now() / 1000 - 1800) < 10, 'exp is tokenLifetimeSeconds away')
  t.equal(claims.nbf, claims.iat)

  const get = createPipelineRequest({
    url: `${emulator.armEndpoint}${accountPath(account)}?api-version=2025-01-01`,
    method: 'GET'
  })
  const accountResponse = await pipeline.sendRequest(client, get)
  t.equal(accountResponse.status, 200)
  t.match(JSON.parse(accountResponse.bodyAsText ?? ''), {
    name: account.accountName,
    type: 'Microsoft.VideoIndexer/accounts',
    properties: { accountId: account.accountId, provisioningState: 'Succeeded' }
  })
  t.match(emulator.counters().arm, {
    generateRestrictedViewerAccessToken: 1,
    accountsGet: 1,
    total: 2,
    byStatus: { 200: 2 }
  })
})

t.test('request logs carry no token', async (t) => {
  await emulator.mintCallerToken('portal-bff').then((token) => seenTokens.push(token))
  t.ok(logLines.length > 0, 'the emulator logged requests')
  t.ok(
    logLines.some((line) => line.includes('/msi/token')),
    'identity requests are logged'
  )
  for (const token of seenTokens) {
    t.notOk(
      logLines.some((line) => line.includes(token)),
      'no log line holds a token'
    )
  }
  t.notOk(
    logLines.some((line) => line.includes(emulator.identityHeader)),
    'no log line holds the identity header'
  )
})
