import { createLocalJWKSet, jwtVerify } from 'jose'
import t from 'tap'
import { send, startTestEmulator } from './fixtures/helpers.js'

const emulator = await startTestEmulator(t, { identityTokenLifetimeSeconds: 1200 })
const tenant = '8c406f87-77ac-4ebb-a401-e8562450630e'
const segment = (value: object) => Buffer.from(JSON.stringify(value)).toString('base64url')
const assertion = (exp: number) =>
  `${segment({ alg: 'RS256' })}.${segment({ sub: 'system:serviceaccount:ns:sa', exp })}.sig`
const validForm = {
  grant_type: 'client_credentials',
  client_id: 'app-1',
  scope: 'https://management.azure.com/.default',
  client_assertion_type: 'urn:ietf:params:oauth:client-assertion-type:jwt-bearer',
  client_assertion: assertion(Math.floor(Date.now() / 1000) + 600)
}

function tokenRequest (form: Record<string, string | undefined>) {
  const body = new URLSearchParams(
    Object.entries(form).filter((entry): entry is [string, string] => entry[1] !== undefined)
  )
  return send(`${emulator.armEndpoint}/${tenant}/oauth2/v2.0/token`, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
    body: body.toString(),
    ca: emulator.caCertPem
  })
}

t.test('OIDC metadata names endpoints on the host the client dialled', async (t) => {
  const answer = await send(`${emulator.armEndpoint}/${tenant}/v2.0/.well-known/openid-configuration`, {
    ca: emulator.caCertPem
  })
  t.equal(answer.status, 200)
  const base = `${emulator.armEndpoint}/${tenant}`
  t.match(answer.json(), {
    issuer: `${base}/v2.0`,
    token_endpoint: `${base}/oauth2/v2.0/token`,
    authorization_endpoint: `${base}/oauth2/v2.0/authorize`,
    jwks_uri: `${base}/discovery/v2.0/keys`
  })
})

t.test('a client-credentials request with a federated assertion gets a token ARM accepts', async (t) => {
  const answer = await tokenRequest(validForm)
  t.equal(answer.status, 200)
  const body = answer.json()
  t.match(body, { token_type: 'Bearer', expires_in: 1200, ext_expires_in: 1200, access_token: String })
  const keys = await send(`${emulator.armEndpoint}/${tenant}/discovery/v2.0/keys`, { ca: emulator.caCertPem })
  const { payload } = await jwtVerify(body.access_token, createLocalJWKSet(keys.json()))
  t.match(payload, { aud: 'https://management.azure.com', appid: 'app-1' })
  t.equal(
    (await tokenRequest({ ...validForm, scope: 'openid https://management.azure.com/.default offline_access' })).status,
    200
  )
})

t.test('invalid requests get Entra error bodies', async (t) => {
  const now = Math.floor(Date.now() / 1000)
  const cases: [Record<string, string | undefined>, number, string, number][] = [
    [{ ...validForm, grant_type: undefined }, 400, 'invalid_request', 900144],
    [{ ...validForm, grant_type: 'password' }, 400, 'unsupported_grant_type', 70003],
    [{ ...validForm, client_id: undefined }, 400, 'invalid_request', 900144],
    [{ ...validForm, scope: undefined }, 400, 'invalid_request', 900144],
    [{ ...validForm, scope: 'https://management.azure.com/user_impersonation' }, 400, 'invalid_scope', 1002012],
    [
      { ...validForm, scope: 'https://management.azure.com/.default https://vault.azure.net/.default' },
      400,
      'invalid_scope',
      1002012
    ],
    [{ ...validForm, client_assertion: undefined }, 401, 'invalid_client', 7000218],
    [{ ...validForm, client_assertion_type: 'urn:other' }, 400, 'invalid_request', 50027],
    [{ ...validForm, client_assertion: 'not-a-jwt' }, 401, 'invalid_client', 50027],
    [{ ...validForm, client_assertion: assertion(now - 10) }, 401, 'invalid_client', 700024]
  ]
  for (const [form, status, error, code] of cases) {
    const answer = await tokenRequest(form)
    t.equal(answer.status, status, `${error} ${code}`)
    t.match(answer.json(), {
      error,
      error_codes: [code],
      error_description: new RegExp(`^AADSTS${code}: `),
      trace_id: String,
      correlation_id: String
    })
  }
})

t.test('a body that is not a form is refused in Entra shape', async (t) => {
  const answer = await send(`${emulator.armEndpoint}/${tenant}/oauth2/v2.0/token`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify(validForm),
    ca: emulator.caCertPem
  })
  t.equal(answer.status, 415)
  t.match(answer.json(), { error: 'invalid_request', error_codes: [900144] })
  t.equal(
    (
      await send(`${emulator.armEndpoint}/${tenant}/oauth2/v2.0/token`, { method: 'POST', ca: emulator.caCertPem })
    ).json().error_codes[0],
    900144,
    'no body'
  )
})
