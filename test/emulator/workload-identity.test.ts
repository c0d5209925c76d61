import { mkdtemp, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { WorkloadIdentityCredential } from '@azure/identity'
import {
  bearerTokenAuthenticationPolicy,
  createDefaultHttpClient,
  createEmptyPipeline,
  createPipelineRequest,
  tlsPolicy
} from '@azure/core-rest-pipeline'
import { decodeJwt } from 'jose'
import t from 'tap'
import { accountPath, defaultAccount, startTestEmulator } from './fixtures/helpers.js'

// One identity scenario per file: MSAL keeps authority metadata for the whole process.
const emulator = await startTestEmulator(t)
const directory = await mkdtemp(join(tmpdir(), 'emulator-wi-'))
t.teardown(() => rm(directory, { recursive: true, force: true }))

/** A dummy projected service-account token: the emulator checks its form and expiry, not its signature. */
const segment = (value: object) => Buffer.from(JSON.stringify(value)).toString('base64url')
const tokenFilePath = join(directory, 'azure-identity-token')
await writeFile(
  tokenFilePath,
  `${segment({ alg: 'RS256', typ: 'JWT' })}.${segment({
    iss: 'https://oidc.aks.example/',
    sub: 'system:serviceaccount:video:vi-token-broker',
    aud: 'api://AzureADTokenExchange',
    exp: Math.floor(Date.now() / 1000) + 3600
  })}.c2lnbmF0dXJl`
)

const clientId = '5e29463d-71da-4fe0-8e69-999b57db23b0'
const credential = new WorkloadIdentityCredential({
  tenantId: '8c406f87-77ac-4ebb-a401-e8562450630e',
  clientId,
  tokenFilePath,
  authorityHost: emulator.armEndpoint,
  disableInstanceDiscovery: true,
  // In-process trust for the self-signed certificate: the credential's pipeline takes tlsOptions.
  tlsOptions: { ca: emulator.caCertPem }
})

t.test('WorkloadIdentityCredential gets a management token from the emulated Entra ID', async (t) => {
  const token = await credential.getToken('https://management.azure.com/.default')
  t.match(decodeJwt(token.token), { aud: 'https://management.azure.com', appid: clientId, idtyp: 'app' })
  t.ok(Math.abs(token.expiresOnTimestamp - (Date.now() + 3600_000)) < 10_000, 'expires in about an hour')
  t.equal(emulator.counters().identity, 1, 'the token request counts as an identity request')
})

t.test('ARM accepts the workload-identity token', async (t) => {
  const pipeline = createEmptyPipeline()
  pipeline.addPolicy(tlsPolicy({ ca: emulator.caCertPem }))
  pipeline.addPolicy(bearerTokenAuthenticationPolicy({ credential, scopes: 'https://management.azure.com/.default' }))
  const request = createPipelineRequest({
    url:
      `${emulator.armEndpoint}${accountPath(defaultAccount(emulator))}` +
      '/generateRestrictedViewerAccessToken?api-version=2024-01-01',
    method: 'POST',
    body: JSON.stringify({ scope: 'Account' })
  })
  request.headers.set('content-type', 'application/json')
  const response = await pipeline.sendRequest(createDefaultHttpClient(), request)
  t.equal(response.status, 200)
  t.match(decodeJwt(JSON.parse(response.bodyAsText ?? '').accessToken), { Scope: 'Account', Permission: 'Reader' })
})
