// The caller-authentication variables: comma lists, Entra mode, the lifetime bound (src/config/auth.ts).
import t, { type Test } from 'tap'
import { ConfigError, loadConfig } from '../src/config.js'
import { thrownMessage } from './support/thrown.js'

const TENANT = '72F988BF-86F1-41AF-91AB-2D7CD011DB47'
const tenant = TENANT.toLowerCase()
const CLIENT_ID = '3f6e1c2a-9b8d-4e7f-a1b2-c3d4e5f60718'

const BASE = {
  AVI_SUBSCRIPTION_ID: 'b04775c3-63fa-40f3-9430-139d2e5522d3',
  AVI_RESOURCE_GROUP: 'contosto-azurevideoindexer-rg',
  AVI_ACCOUNT_NAME: 'contosto-azurevideoindexer',
  POLICY_FILE: '/etc/broker/policy.json',
  AUDIT_HMAC_KEY: 'audit-hmac-key-for-config-tests-abcdefghijklmn'
}
const ENTRA = { ...BASE, AUTH_ENTRA_TENANT_ID: TENANT, AUTH_ENTRA_AUDIENCE: `${CLIENT_ID},api://vi-token-broker` }
const HS256 = {
  ...BASE,
  AUTH_JWT_SECRET: 'hs256-shared-secret-for-config-tests-0123456789',
  AUTH_ISSUER: 'https://issuer.test/',
  AUTH_AUDIENCE: 'api://vi-token-broker'
}

type Env = Record<string, string | undefined>

const failure = (t: Test, env: Env) => thrownMessage(t, () => loadConfig(env), ConfigError)

t.test('Entra mode derives the keys, both issuers and the tenant from AUTH_ENTRA_TENANT_ID', async (t) => {
  t.same(loadConfig(ENTRA).auth, {
    mode: 'entra',
    tenantId: tenant,
    jwksUri: `https://login.microsoftonline.com/${tenant}/discovery/v2.0/keys`,
    jwksTimeoutMs: 3000,
    jwksCooldownMs: 30_000,
    issuers: [`https://sts.windows.net/${tenant}/`, `https://login.microsoftonline.com/${tenant}/v2.0`],
    audiences: [CLIENT_ID, 'api://vi-token-broker'],
    callerClaims: ['azp', 'appid', 'sub'],
    clockSkewSeconds: 60,
    maxLifetimeSeconds: 86_400
  })
})

t.test('AUTH_ENTRA_TOKEN_VERSIONS picks the issuers', async (t) => {
  const issuers = (versions: string) => loadConfig({ ...ENTRA, AUTH_ENTRA_TOKEN_VERSIONS: versions }).auth.issuers
  t.same(issuers('1'), [`https://sts.windows.net/${tenant}/`])
  t.same(issuers('2'), [`https://login.microsoftonline.com/${tenant}/v2.0`])
  t.same(issuers('2,1'), [`https://sts.windows.net/${tenant}/`, `https://login.microsoftonline.com/${tenant}/v2.0`])
  t.match(failure(t, { ...ENTRA, AUTH_ENTRA_TOKEN_VERSIONS: '3' }), '\n  AUTH_ENTRA_TOKEN_VERSIONS: ')
})

t.test('AUTH_ENTRA_AUTHORITY_HOST: sovereign clouds and the emulator on loopback', async (t) => {
  const auth = (host: string) => loadConfig({ ...ENTRA, AUTH_ENTRA_AUTHORITY_HOST: host }).auth
  t.match(auth('https://login.microsoftonline.us/'), {
    jwksUri: `https://login.microsoftonline.us/${tenant}/discovery/v2.0/keys`,
    issuers: [`https://sts.windows.net/${tenant}/`, `https://login.microsoftonline.us/${tenant}/v2.0`]
  })
  t.match(auth('http://127.0.0.1:8081'), { jwksUri: `http://127.0.0.1:8081/${tenant}/discovery/v2.0/keys` })
  t.match(
    failure(t, { ...ENTRA, AUTH_ENTRA_AUTHORITY_HOST: 'http://login.microsoftonline.com' }),
    'AUTH_ENTRA_AUTHORITY_HOST: must be https'
  )
  t.match(
    failure(t, { ...ENTRA, AUTH_ENTRA_AUTHORITY_HOST: 'https://login.microsoftonline.com/common' }),
    '\n  AUTH_ENTRA_AUTHORITY_HOST: ',
    'a host, not a path'
  )
})

t.test('the tenant must be a GUID', async (t) => {
  t.match(failure(t, { ...ENTRA, AUTH_ENTRA_TENANT_ID: 'contoso.onmicrosoft.com' }), '\n  AUTH_ENTRA_TENANT_ID: ')
})

t.test('AUTH_ENTRA_AUDIENCE: client ids and application ID URIs, never a scope', async (t) => {
  const audiences = (value: string) => loadConfig({ ...ENTRA, AUTH_ENTRA_AUDIENCE: value }).auth.audiences
  t.same(audiences(CLIENT_ID), [CLIENT_ID])
  t.same(audiences(`api://vi-token-broker , ${CLIENT_ID}`), ['api://vi-token-broker', CLIENT_ID])
  t.same(audiences('https://contoso.com/vi-token-broker'), ['https://contoso.com/vi-token-broker'])
  t.match(
    failure(t, { ...ENTRA, AUTH_ENTRA_AUDIENCE: 'api://vi-token-broker/.default' }),
    /AUTH_ENTRA_AUDIENCE: "api:\/\/vi-token-broker\/.default" is a scope/
  )
  t.match(
    failure(t, { ...ENTRA, AUTH_ENTRA_AUDIENCE: 'vi-token-broker' }),
    /AUTH_ENTRA_AUDIENCE: "vi-token-broker" is neither a client id/
  )
  t.match(failure(t, { ...ENTRA, AUTH_ENTRA_AUDIENCE: `${CLIENT_ID},,x` }), '\n  AUTH_ENTRA_AUDIENCE: ')
  t.match(
    failure(t, { ...ENTRA, AUTH_ENTRA_AUDIENCE: undefined }),
    'AUTH_ENTRA_AUDIENCE: required but not set'
  )
})

t.test('the modes exclude one another', async (t) => {
  for (const extra of [
    { AUTH_JWKS_URI: 'https://login.example/keys' },
    { AUTH_JWT_SECRET: 'hs256-shared-secret-for-config-tests-0123456789' }
  ]) {
    t.match(
      failure(t, { ...ENTRA, ...extra }),
      'AUTH_ENTRA_TENANT_ID, AUTH_JWKS_URI, AUTH_JWT_SECRET: set exactly one',
      Object.keys(extra).join()
    )
  }
  t.match(
    failure(t, { ...ENTRA, AUTH_ISSUER: 'https://issuer.test/', AUTH_AUDIENCE: 'api://x' }),
    'AUTH_ISSUER, AUTH_AUDIENCE: not used with AUTH_ENTRA_TENANT_ID'
  )
  t.match(
    failure(t, { ...HS256, AUTH_ENTRA_AUDIENCE: CLIENT_ID }),
    'AUTH_ENTRA_AUDIENCE: only used with AUTH_ENTRA_TENANT_ID'
  )
})

t.test('JWKS and HS256 modes: AUTH_ISSUER and AUTH_AUDIENCE are required comma lists', async (t) => {
  t.match(loadConfig({ ...HS256, AUTH_ISSUER: 'https://a.test/, https://b.test/', AUTH_AUDIENCE: 'x,y' }).auth, {
    issuers: ['https://a.test/', 'https://b.test/'],
    audiences: ['x', 'y']
  })
  for (const [name, value] of [
    ['AUTH_ISSUER', 'https://a.test/,'],
    ['AUTH_ISSUER', 'https://a.test/ https://b.test/'],
    ['AUTH_AUDIENCE', ',x']
  ] as const) {
    t.match(failure(t, { ...HS256, [name]: value }), `\n  ${name}: `, `${name}=${JSON.stringify(value)}`)
  }
  const message = failure(t, { ...HS256, AUTH_ISSUER: undefined, AUTH_AUDIENCE: undefined })
  t.match(message, 'AUTH_ISSUER: required but not set')
  t.match(message, 'AUTH_AUDIENCE: required but not set')
})

t.test('AUTH_MAX_TOKEN_LIFETIME_SECONDS', async (t) => {
  t.equal(loadConfig(HS256).auth.maxLifetimeSeconds, 86_400, 'a day by default')
  t.equal(loadConfig({ ...HS256, AUTH_MAX_TOKEN_LIFETIME_SECONDS: '7200' }).auth.maxLifetimeSeconds, 7200)
  for (const value of ['59', '2592001', 'a day']) {
    t.match(failure(t, { ...HS256, AUTH_MAX_TOKEN_LIFETIME_SECONDS: value }), '\n  AUTH_MAX_TOKEN_LIFETIME_SECONDS: ')
  }
})
