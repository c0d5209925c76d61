import { decodeJwt } from 'jose'
import t from 'tap'
import { send, startTestEmulator } from './fixtures/helpers.js'

const emulator = await startTestEmulator(t, { identityTokenLifetimeSeconds: 900 })
const msi = (query: string, headers: Record<string, string> = { 'x-identity-header': emulator.identityHeader }) =>
  send(`${emulator.identityEndpoint}?${query}`, { headers })

t.test('issues a token in the App Service response shape', async (t) => {
  const before = Math.floor(Date.now() / 1000)
  const answer = await msi('api-version=2019-08-01&resource=https://management.azure.com')
  t.equal(answer.status, 200)
  const body = answer.json()
  t.same(Object.keys(body).sort(), ['access_token', 'client_id', 'expires_on', 'resource', 'token_type'])
  t.match(body, { resource: 'https://management.azure.com', token_type: 'Bearer', expires_on: /^\d+$/ })
  t.ok(
    Number(body.expires_on) - before >= 900 && Number(body.expires_on) - before <= 901,
    'expires_on is epoch seconds, lifetime from options'
  )
  const claims = decodeJwt(body.access_token)
  t.match(claims, { aud: 'https://management.azure.com', appid: body.client_id, idtyp: 'app', ver: '1.0' })
})

t.test('rejects a missing or wrong identity header with 401', async (t) => {
  const attempts: Record<string, string>[] = [
    {},
    { 'x-identity-header': 'wrong' },
    { 'x-identity-header': `${emulator.identityHeader}x` }
  ]
  for (const headers of attempts) {
    const answer = await msi('api-version=2019-08-01&resource=https://management.azure.com', headers)
    t.equal(answer.status, 401)
    t.match(answer.json(), { statusCode: 401, message: /X-IDENTITY-HEADER/, correlationId: /^[0-9a-f-]{36}$/ })
  }
})

t.test('validates api-version, resource and the identity selector', async (t) => {
  const cases = [
    'resource=https://management.azure.com',
    'api-version=2017-09-01&resource=https://management.azure.com',
    'api-version=2019-08-01',
    'api-version=2019-08-01&resource=',
    'api-version=2019-08-01&resource=r&client_id=a&mi_res_id=b',
    'api-version=2019-08-01&resource=r&principal_id=a&client_id=b',
    'api-version=2019-08-01&resource=r&resource=s'
  ]
  for (const query of cases) t.equal((await msi(query)).status, 400, query)
})

t.test('user-assigned identities get stable, distinct principals', async (t) => {
  const claimsFor = async (selector: string) =>
    decodeJwt(
      (await msi(`api-version=2019-08-01&resource=https://management.azure.com&${selector}`)).json().access_token
    )
  const system = await claimsFor('')
  const byClient = await claimsFor('client_id=c0ffee00-0000-4000-8000-000000000001')
  t.equal(byClient.appid, 'c0ffee00-0000-4000-8000-000000000001')
  t.not(byClient.oid, system.oid)
  t.equal(
    (await claimsFor('client_id=C0FFEE00-0000-4000-8000-000000000001')).oid,
    byClient.oid,
    'ids compare case-insensitively'
  )
  const byPrincipal = await claimsFor('principal_id=0b1ec700-0000-4000-8000-000000000002')
  t.equal(byPrincipal.oid, '0b1ec700-0000-4000-8000-000000000002')
  t.equal(
    (await claimsFor('object_id=0b1ec700-0000-4000-8000-000000000002')).oid,
    byPrincipal.oid,
    'object_id is principal_id'
  )
  const byResource = await claimsFor(
    'mi_res_id=/subscriptions/s/resourceGroups/rg/providers/Microsoft.ManagedIdentity/userAssignedIdentities/broker'
  )
  t.match(byResource, { oid: /^[0-9a-f-]{36}$/, appid: /^[0-9a-f-]{36}$/ })
  t.equal(emulator.counters().identity, 1 + 3 + 7 + 6, 'every request, rejected or not, is counted')
})
