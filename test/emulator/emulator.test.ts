import { X509Certificate } from 'node:crypto'
import { once } from 'node:events'
import { connect } from 'node:tls'
import t from 'tap'
import { startEmulator } from '../../src/emulator/emulator.js'
import { urlHost } from '../../src/emulator/url-host.js'
import { accountPath, arm, managementToken, send, startTestEmulator } from './fixtures/helpers.js'

t.test('endpoints and defaults', async (t) => {
  const emulator = await startTestEmulator(t)
  t.match(emulator.armEndpoint, /^https:\/\/127\.0\.0\.1:\d+$/)
  const httpBase = emulator.adminUrl.replace(/\/admin$/, '')
  t.match(httpBase, /^http:\/\/127\.0\.0\.1:\d+$/)
  t.equal(emulator.identityEndpoint, `${httpBase}/msi/token`)
  t.equal(emulator.jwksUri, `${httpBase}/.well-known/jwks.json`)
  t.equal(emulator.jwksHttpsUri, `${emulator.armEndpoint}/.well-known/jwks.json`)
  t.match(emulator.identityHeader, /^[\w-]{32}$/)
  // An Entra tenant of its own, its authority the HTTP server (loopback, so a broker may use plain http).
  t.match(emulator.tenantId, /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/)
  t.equal(emulator.authorityHost, httpBase)
  t.equal(emulator.issuer, `${httpBase}/${emulator.tenantId}/v2.0`)
  t.equal(emulator.v1Issuer, `https://sts.windows.net/${emulator.tenantId}/`)
  t.match(emulator.brokerClientId, /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/)
  t.equal(emulator.audience, emulator.brokerClientId, "a v2 token's aud is the broker app's client id")
  t.equal(emulator.brokerApplicationIdUri, 'api://vi-token-broker')
  t.same(emulator.accounts, [
    {
      subscriptionId: 'b04775c3-63fa-40f3-9430-139d2e5522d3',
      resourceGroup: 'contosto-azurevideoindexer-rg',
      accountName: 'contosto-azurevideoindexer',
      accountId: '6a2d8d1e-3e1c-4d8a-9f6b-1c2d3e4f5a6b',
      location: 'eastus'
    }
  ])
  emulator.accounts[0]!.accountName = 'changed'
  const token = await managementToken(emulator)
  const answer = await arm(
    emulator,
    'GET',
    accountPath({ ...emulator.accounts[0]!, accountName: 'contosto-azurevideoindexer' }),
    { token }
  )
  t.equal(answer.status, 200, 'changing the returned accounts does not change the emulator')

  const viaName = await send(`${emulator.armEndpoint.replace('127.0.0.1', 'localhost')}/subscriptions`, {
    ca: emulator.caCertPem
  })
  t.equal(viaName.status, 404, 'the certificate is valid for localhost too')
})

t.test('a fixed identity header, and the caller JWKS over HTTPS', async (t) => {
  const emulator = await startTestEmulator(t, { identityHeader: 'fixed-header-for-compose' })
  t.equal(emulator.identityHeader, 'fixed-header-for-compose')
  const response = await send(emulator.jwksHttpsUri, { ca: emulator.caCertPem })
  t.equal(response.status, 200)
  t.same(response.json(), await (await fetch(emulator.jwksUri)).json(), 'the same keys as over HTTP')
})

t.test('a fixed tenant and authority, as compose sets them: the tenant keys over HTTPS too', async (t) => {
  const tenantId = '8c406f87-77ac-4ebb-a401-e8562450630e'
  const emulator = await startTestEmulator(t, { tenantId, authorityHost: 'https://emulator:8443/' })
  t.equal(emulator.authorityHost, 'https://emulator:8443')
  t.equal(emulator.issuer, `https://emulator:8443/${tenantId}/v2.0`)
  const overHttps = await send(`${emulator.armEndpoint}/${tenantId}/discovery/v2.0/keys`, { ca: emulator.caCertPem })
  const overHttp = await send(`${emulator.adminUrl.replace(/\/admin$/, '')}/${tenantId}/discovery/v2.0/keys`)
  t.equal(overHttps.status, 200)
  t.same(overHttps.json(), overHttp.json(), 'the same keys on both servers')
})

t.test('IPv6 loopback', async (t) => {
  const emulator = await startTestEmulator(t, { host: '::1' })
  t.match(emulator.armEndpoint, /^https:\/\/\[::1\]:\d+$/)
  t.equal((await send(emulator.jwksUri)).status, 200)
  // Node 22.23's default tls.checkServerIdentity rejects every IPv6 literal (it reads the host
  // through domainToASCII), so check the certificate's IP SAN directly.
  const socket = connect({
    host: '::1',
    port: Number(new URL(emulator.armEndpoint).port),
    ca: emulator.caCertPem,
    checkServerIdentity: (host, certificate) =>
      new X509Certificate(certificate.raw).checkIP(host) ? undefined : new Error(`${host} is not in the certificate`)
  })
  t.teardown(() => socket.destroy())
  await once(socket, 'secureConnect')
  t.ok(socket.authorized, 'the certificate is trusted for ::1')
})

t.test('a port already in use fails startup and releases the other port', async (t) => {
  const first = await startTestEmulator(t)
  const busyPort = Number(new URL(first.adminUrl).port)
  await t.rejects(startEmulator({ port: busyPort }), { code: 'EADDRINUSE' })
  const armPort = Number(new URL(first.armEndpoint).port)
  await t.rejects(startEmulator({ armPort }), { code: 'EADDRINUSE' })
})

t.test('close is idempotent', async (t) => {
  const emulator = await startEmulator()
  await Promise.all([emulator.close(), emulator.close()])
  await emulator.close()
  await t.rejects(send(emulator.jwksUri), { code: 'ECONNREFUSED' })
})

t.test('urlHost', async (t) => {
  t.equal(urlHost('127.0.0.1'), '127.0.0.1')
  t.equal(urlHost('emulator'), 'emulator')
  t.equal(urlHost('0.0.0.0'), '127.0.0.1')
  t.equal(urlHost('::'), '[::1]')
  t.equal(urlHost('::1'), '[::1]')
})
