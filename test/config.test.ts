import t, { type Test } from 'tap'
import { ConfigError, loadConfig, type Config } from '../src/config.js'
import { thrownMessage } from './support/thrown.js'

const SECRET = 'hs256-shared-secret-for-config-tests-0123456789'
const HMAC_KEY = 'audit-hmac-key-for-config-tests-abcdefghijklmn'

/** The smallest environment that loads: every required variable, HS256 mode. */
const MINIMAL = {
  AVI_SUBSCRIPTION_ID: 'b04775c3-63fa-40f3-9430-139d2e5522d3',
  AVI_RESOURCE_GROUP: 'contosto-azurevideoindexer-rg',
  AVI_ACCOUNT_NAME: 'contosto-azurevideoindexer',
  AUTH_JWT_SECRET: SECRET,
  AUTH_ISSUER: 'https://issuer.test/',
  AUTH_AUDIENCE: 'api://vi-token-broker',
  POLICY_FILE: '/etc/broker/policy.json',
  AUDIT_HMAC_KEY: HMAC_KEY
}

type Env = Record<string, string | undefined>

/** loadConfig over MINIMAL with overrides (an undefined override removes the variable). */
const load = (overrides: Env = {}) => loadConfig({ ...MINIMAL, ...overrides })

/** The ConfigError message thrown for this environment (fails the test if it loads). */
function failure (t: Test, overrides: Env): string {
  return thrownMessage(t, () => load(overrides), ConfigError)
}

/** The values a ConfigError message shows after "(got ". */
const shownValues = (message: string) =>
  [...message.matchAll(/\(got (.*)\)$/gm)].map(([, shown]) =>
    shown!.startsWith('"') ? (JSON.parse(shown!) as string) : shown!
  )

t.test('defaults', async (t) => {
  const config = load()
  t.same(config, {
    port: 8080,
    host: '0.0.0.0',
    logLevel: 'info',
    logFormat: 'json',
    account: {
      alias: 'default',
      subscriptionId: MINIMAL.AVI_SUBSCRIPTION_ID,
      resourceGroup: MINIMAL.AVI_RESOURCE_GROUP,
      name: MINIMAL.AVI_ACCOUNT_NAME
    },
    arm: {
      endpoint: 'https://management.azure.com',
      apiVersion: '2024-01-01',
      timeoutMs: 10_000,
      maxRetries: 2,
      retryAfterCapSeconds: 5,
      maxConcurrency: 16,
      writeBucket: { burst: 200, perSecond: 10 }
    },
    auth: {
      mode: 'hs256',
      secret: { value: SECRET },
      issuers: [MINIMAL.AUTH_ISSUER],
      audiences: [MINIMAL.AUTH_AUDIENCE],
      callerClaims: ['azp', 'appid', 'sub'],
      clockSkewSeconds: 60,
      maxLifetimeSeconds: 86_400
    },
    identity: { kind: 'managed' },
    identityPool: [],
    policyFile: MINIMAL.POLICY_FILE,
    cache: { maxEntries: 10_000, minRemainingSeconds: 300, refreshAheadSeconds: 900 },
    batch: { maxItems: 100 },
    auditHmacKey: { value: HMAC_KEY },
    auditLogFile: undefined,
    shutdown: { delayMs: 5_000, timeoutMs: 10_000 },
    docsEnabled: true,
    metricsPort: undefined,
    overload: { targetDelayMs: 250, intervalMs: 100 },
    headersTimeoutMs: 10_000,
    redis: undefined,
    tracing: undefined,
    accountsFile: undefined,
    accountMetadataRefreshSeconds: 3600,
    webBaseUrl: 'https://www.videoindexer.ai'
  } satisfies Config)
  t.notOk('clientId' in config.identity, 'managed identity without AZURE_CLIENT_ID has no clientId key')
})

t.test('every variable is read and converted', async (t) => {
  const config = load({
    PORT: '9443',
    HOST: '127.0.0.1',
    HTTP_HEADERS_TIMEOUT_MS: '3000',
    LOG_LEVEL: 'debug',
    LOG_FORMAT: 'pretty',
    ARM_ENDPOINT: 'https://arm.example.test',
    ARM_API_VERSION: '2025-04-01-preview',
    ARM_TIMEOUT_MS: '2500',
    ARM_MAX_RETRIES: '0',
    ARM_RETRY_AFTER_CAP_SECONDS: '30',
    ARM_WRITE_BURST: '20',
    ARM_WRITES_PER_SECOND: '2',
    AUTH_CALLER_CLAIMS: 'appid,oid',
    AUTH_CLOCK_SKEW_SECONDS: '0',
    CACHE_MAX_ENTRIES: '5',
    TOKEN_MIN_REMAINING_SECONDS: '0',
    TOKEN_REFRESH_AHEAD_SECONDS: '120',
    SHUTDOWN_TIMEOUT_MS: '100',
    SHUTDOWN_DELAY_MS: '0',
    AZURE_CLIENT_ID: 'user-assigned-client-id'
  })
  t.equal(config.port, 9443)
  t.equal(config.host, '127.0.0.1')
  t.equal(config.headersTimeoutMs, 3000)
  t.equal(config.logLevel, 'debug')
  t.equal(config.logFormat, 'pretty')
  t.same(config.arm, {
    endpoint: 'https://arm.example.test',
    apiVersion: '2025-04-01-preview',
    timeoutMs: 2500,
    maxRetries: 0,
    retryAfterCapSeconds: 30,
    maxConcurrency: 16,
    writeBucket: { burst: 20, perSecond: 2 }
  })
  t.same(config.auth.callerClaims, ['appid', 'oid'])
  t.equal(config.auth.clockSkewSeconds, 0)
  t.same(config.cache, { maxEntries: 5, minRemainingSeconds: 0, refreshAheadSeconds: 120 })
  t.same(config.shutdown, { delayMs: 0, timeoutMs: 100 })
  t.same(config.identity, { kind: 'managed', clientId: 'user-assigned-client-id' })
  t.same(config.identityPool, [], 'AZURE_CLIENT_ID alone is a pool of one, as before')
})

t.test('AZURE_CLIENT_IDS names the identity pool', async (t) => {
  t.same(load({ AZURE_CLIENT_IDS: 'client-a, client-b,client-c' }).identityPool, ['client-a', 'client-b', 'client-c'])
  t.throws(() => load({ AZURE_CLIENT_IDS: 'client-a,,client-b' }), /AZURE_CLIENT_IDS/)
  t.throws(() => load({ AZURE_CLIENT_IDS: 'client-a,CLIENT-A' }), /AZURE_CLIENT_IDS: names an identity twice/)
  t.throws(() => load({ ARM_WRITE_BURST: '0' }), /ARM_WRITE_BURST/)
  t.throws(() => load({ ARM_WRITES_PER_SECOND: '0.5' }), /ARM_WRITES_PER_SECOND/)
  const workload = load({
    AZURE_FEDERATED_TOKEN_FILE: '/var/run/secrets/azure/tokens/azure-identity-token',
    AZURE_TENANT_ID: 'tenant',
    AZURE_CLIENT_IDS: 'client-a,client-b'
  })
  t.match(workload.identity, { kind: 'workload', clientId: 'client-a' }, 'workload identity takes ids from the pool')
  t.same(workload.identityPool, ['client-a', 'client-b'])
})

t.test('the header timeout is 1 to 60 seconds', async (t) => {
  t.throws(() => load({ HTTP_HEADERS_TIMEOUT_MS: '999' }), { message: /HTTP_HEADERS_TIMEOUT_MS: / })
  t.throws(() => load({ HTTP_HEADERS_TIMEOUT_MS: '60001' }), { message: /HTTP_HEADERS_TIMEOUT_MS: / })
})

t.test('BATCH_MAX_ITEMS is 1 to 1000', async (t) => {
  t.same(load({ BATCH_MAX_ITEMS: '1000' }).batch, { maxItems: 1000 })
  t.throws(() => load({ BATCH_MAX_ITEMS: '0' }), { message: /BATCH_MAX_ITEMS: / })
  t.throws(() => load({ BATCH_MAX_ITEMS: '1001' }), { message: /BATCH_MAX_ITEMS: / })
})

t.test('PORT 0 (any free port) is allowed', async (t) => {
  t.equal(load({ PORT: '0' }).port, 0)
})

t.test('every LOG_LEVEL pino knows is accepted', async (t) => {
  for (const level of ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']) {
    t.equal(load({ LOG_LEVEL: level }).logLevel, level)
  }
})

t.test('variables outside the schema are ignored', async (t) => {
  const config = load({ PATH: '/usr/bin', HOME: '/root', UNRELATED_SECRET: 'x' })
  t.notOk(JSON.stringify(config).includes('/usr/bin'))
})

t.test('empty-string variables are treated as unset', async (t) => {
  t.test('an empty optional variable takes its default', async (t) => {
    const config = load({ PORT: '', LOG_LEVEL: '', ARM_ENDPOINT: '', AUTH_CALLER_CLAIMS: '' })
    t.equal(config.port, 8080)
    t.equal(config.logLevel, 'info')
    t.equal(config.arm.endpoint, 'https://management.azure.com')
    t.same(config.auth.callerClaims, ['azp', 'appid', 'sub'])
  })
  t.test('an empty required variable is reported as not set', async (t) => {
    const message = failure(t, { AUTH_ISSUER: '' })
    t.match(message, /AUTH_ISSUER: required but not set/)
  })
  t.test('an empty AUTH_JWKS_URI does not count as a second auth mode', async (t) => {
    t.equal(load({ AUTH_JWKS_URI: '' }).auth.mode, 'hs256')
  })
  t.test('an empty AUTH_JWT_SECRET does not count as a second auth mode', async (t) => {
    t.equal(load({ AUTH_JWT_SECRET: '', AUTH_JWKS_URI: 'https://login.example/keys' }).auth.mode, 'jwks')
  })
  t.test('an empty AZURE_FEDERATED_TOKEN_FILE keeps managed identity', async (t) => {
    t.same(load({ AZURE_FEDERATED_TOKEN_FILE: '' }).identity, { kind: 'managed' })
  })
})

t.test('missing required variables are all named in one error', async (t) => {
  let message = ''
  try {
    loadConfig({})
  } catch (error) {
    t.type(error, ConfigError)
    t.equal((error as Error).name, 'ConfigError')
    message = (error as Error).message
  }
  t.match(message, /^Invalid configuration:\n/)
  for (const name of [
    'AVI_SUBSCRIPTION_ID',
    'AVI_RESOURCE_GROUP',
    'AVI_ACCOUNT_NAME',
    'AUTH_ISSUER',
    'AUTH_AUDIENCE',
    'POLICY_FILE',
    'AUDIT_HMAC_KEY'
  ]) {
    t.match(message, name, `names ${name}`)
  }
  t.match(message, /required but not set/)
})

t.test('every validation error names the variable and shows the bad value', async (t) => {
  const cases: Array<[name: string, value: string]> = [
    ['PORT', 'eighty'],
    ['PORT', '-1'],
    ['PORT', '65536'],
    ['LOG_LEVEL', 'verbose'],
    ['AVI_SUBSCRIPTION_ID', 'not-a-guid'],
    ['AVI_RESOURCE_GROUP', 'rg with spaces'],
    ['AVI_RESOURCE_GROUP', 'r'.repeat(91)],
    ['AVI_ACCOUNT_NAME', 'ab'],
    ['AVI_ACCOUNT_NAME', 'under_score'],
    ['AVI_ACCOUNT_NAME', 'a'.repeat(51)],
    ['ARM_ENDPOINT', 'http://management.azure.com'],
    ['ARM_API_VERSION', '2024-1-1'],
    ['ARM_TIMEOUT_MS', '99'],
    ['ARM_TIMEOUT_MS', '600001'],
    ['ARM_MAX_RETRIES', '6'],
    ['ARM_RETRY_AFTER_CAP_SECONDS', '61'],
    ['AUTH_JWKS_URI', 'ftp://keys.example/jwks'],
    ['LOG_FORMAT', 'text'],
    ['AUTH_CALLER_CLAIMS', 'azp,,sub'],
    ['AUTH_CALLER_CLAIMS', 'azp, sub'],
    ['AUTH_CLOCK_SKEW_SECONDS', '301'],
    ['AUTH_JWKS_TIMEOUT_MS', '0'],
    ['AUTH_JWKS_COOLDOWN_MS', '-1'],
    ['CACHE_MAX_ENTRIES', '0'],
    ['TOKEN_MIN_REMAINING_SECONDS', '3001'],
    ['TOKEN_REFRESH_AHEAD_SECONDS', '-5'],
    ['SHUTDOWN_TIMEOUT_MS', '50'],
    ['AZURE_AUTHORITY_HOST', 'http://login.microsoftonline.com']
  ]
  for (const [name, value] of cases) {
    const message = failure(t, { [name]: value })
    t.match(message, `\n  ${name}: `, `${name}=${JSON.stringify(value)} is reported against ${name}`)
    // Numbers are shown as converted (got -1), strings quoted (got "verbose").
    t.ok(shownValues(message).includes(value), `${name}: the offending value is shown`)
  }
})

t.test('several errors are reported together, one line each', async (t) => {
  const message = failure(t, { PORT: 'x', LOG_LEVEL: 'loud', AVI_SUBSCRIPTION_ID: 'nope' })
  const lines = message.split('\n').slice(1)
  t.equal(lines.length, 3)
  t.match(lines.join('\n'), /PORT:.*\n.*LOG_LEVEL:.*\n.*AVI_SUBSCRIPTION_ID:/)
})

t.test('a placeholder is not a key: it fails validation, saying so, without echoing it', async (t) => {
  const placeholders: Array<[string, string]> = [
    ['AUDIT_HMAC_KEY', 'replace-with-at-least-32-random-characters'],
    ['AUDIT_HMAC_KEY', 'change-me-change-me-change-me-change-me'],
    ['AUDIT_HMAC_KEY', 'CHANGEME_to_a_long_random_value_0123456789'],
    ['AUDIT_HMAC_KEY', '<at least 32 random characters from a vault>'],
    ['AUDIT_HMAC_KEY', 'your-audit-hmac-key-goes-here-0123456789'],
    ['AUDIT_HMAC_KEY', 'placeholder-key-of-at-least-32-chars'],
    ['AUDIT_HMAC_KEY', 'an-example-audit-key-0123456789abcdef'],
    ['AUDIT_HMAC_KEY', 'x'.repeat(40)],
    ['AUDIT_HMAC_KEY', '0'.repeat(64)],
    ['AUTH_JWT_SECRET', 'replace-me-with-a-secret-of-32-bytes-or-more'],
    ['CACHE_ENCRYPTION_KEY', '2026-11:<output of: openssl rand -base64 32>'],
    ['AVI_SUBSCRIPTION_ID', '00000000-0000-0000-0000-000000000000']
  ]
  const redis = { REDIS_URL: 'redis://r:6379' }
  for (const [name, value] of placeholders) {
    const message = failure(t, { ...(name === 'CACHE_ENCRYPTION_KEY' ? redis : {}), [name]: value })
    const said = `${name}=${value.slice(0, 24)}…: said to be a placeholder`
    t.match(message, new RegExp(`\\n  ${name}: is a placeholder`), said)
    if (name !== 'AVI_SUBSCRIPTION_ID') t.notMatch(message, value, `${name}: the value is not echoed`)
  }
  t.ok(load({ AUDIT_HMAC_KEY: 'f3a9c1d27e5b48a6b0c4d9e8f7a6b5c4d3e2f1a0' }), 'a random key passes')
})

t.test('secrets are never echoed in an error message', async (t) => {
  t.test('a too-short AUTH_JWT_SECRET', async (t) => {
    const secret = 'short-jwt-secret-value'
    const message = failure(t, { AUTH_JWT_SECRET: secret })
    t.match(message, 'AUTH_JWT_SECRET: ')
    t.match(message, '(value hidden)')
    t.notMatch(message, secret)
  })
  t.test('a too-short AUDIT_HMAC_KEY', async (t) => {
    const key = 'short-hmac-key'
    const message = failure(t, { AUDIT_HMAC_KEY: key })
    t.match(message, 'AUDIT_HMAC_KEY: ')
    t.match(message, '(value hidden)')
    t.notMatch(message, key)
  })
  t.test('valid secrets next to an invalid variable', async (t) => {
    const message = failure(t, { PORT: 'x' })
    t.notMatch(message, SECRET)
    t.notMatch(message, HMAC_KEY)
  })
  t.test('the auth-mode error does not echo the secret', async (t) => {
    const message = failure(t, { AUTH_JWKS_URI: 'https://login.example/keys' })
    t.notMatch(message, SECRET)
  })
})

t.test('exactly one auth mode', async (t) => {
  t.test('HS256 with only AUTH_JWT_SECRET', async (t) => {
    const { auth } = load()
    t.equal(auth.mode, 'hs256')
    t.notOk('jwksUri' in auth)
  })
  t.test('JWKS with only AUTH_JWKS_URI, with its timeout and cooldown', async (t) => {
    const { auth } = load({
      AUTH_JWT_SECRET: undefined,
      AUTH_JWKS_URI: 'https://login.example/keys',
      AUTH_JWKS_TIMEOUT_MS: '1500',
      AUTH_JWKS_COOLDOWN_MS: '0'
    })
    t.same(auth, {
      mode: 'jwks',
      jwksUri: 'https://login.example/keys',
      jwksTimeoutMs: 1500,
      jwksCooldownMs: 0,
      issuers: [MINIMAL.AUTH_ISSUER],
      audiences: [MINIMAL.AUTH_AUDIENCE],
      callerClaims: ['azp', 'appid', 'sub'],
      clockSkewSeconds: 60,
      maxLifetimeSeconds: 86_400
    })
    t.notOk('secret' in auth, 'no secret in JWKS mode')
  })
  t.test('JWKS timeout and cooldown defaults', async (t) => {
    const { auth } = load({ AUTH_JWT_SECRET: undefined, AUTH_JWKS_URI: 'https://login.example/keys' })
    t.match(auth, { mode: 'jwks', jwksTimeoutMs: 3000, jwksCooldownMs: 30_000 })
  })
  t.test('both set is rejected, naming both variables', async (t) => {
    const message = failure(t, { AUTH_JWKS_URI: 'https://login.example/keys' })
    t.match(message, 'AUTH_JWKS_URI, AUTH_JWT_SECRET: set exactly one')
  })
  t.test('neither set is rejected, naming both variables', async (t) => {
    const message = failure(t, { AUTH_JWT_SECRET: undefined })
    t.match(message, 'AUTH_JWKS_URI, AUTH_JWT_SECRET: set exactly one')
  })
})

t.test('plain-http JWKS only on loopback', async (t) => {
  const jwks = (uri: string) => ({ AUTH_JWT_SECRET: undefined, AUTH_JWKS_URI: uri })
  for (const uri of [
    'https://login.example/keys',
    'http://localhost:8081/jwks',
    'http://127.0.0.1:8081/jwks',
    'http://127.10.20.30/jwks',
    'http://[::1]:8081/jwks'
  ]) {
    t.equal(load(jwks(uri)).auth.mode, 'jwks', `${uri} is accepted`)
  }
  for (const uri of [
    'http://login.example/keys',
    'http://10.0.0.1/jwks',
    'http://128.0.0.1/jwks',
    'http://[::2]/jwks'
  ]) {
    const message = failure(t, jwks(uri))
    t.match(message, 'AUTH_JWKS_URI: must be https', `${uri} is rejected`)
  }
  t.throws(
    () => load(jwks('http://127.0.0.1.attacker.example/jwks')),
    { name: 'ConfigError', message: /AUTH_JWKS_URI: must be https/ },
    'a public host name that merely starts with "127." is not loopback'
  )
  t.throws(
    () => load(jwks('https://[::1')),
    { name: 'ConfigError', message: /AUTH_JWKS_URI/ },
    'a JWKS URI that matches the pattern but is not a URL gives a ConfigError naming the variable'
  )
})

t.test('TOKEN_MIN_REMAINING_SECONDS + TOKEN_REFRESH_AHEAD_SECONDS must stay under 3600', async (t) => {
  t.same(load({ TOKEN_MIN_REMAINING_SECONDS: '3000', TOKEN_REFRESH_AHEAD_SECONDS: '599' }).cache, {
    maxEntries: 10_000,
    minRemainingSeconds: 3000,
    refreshAheadSeconds: 599
  })
  const message = failure(t, { TOKEN_MIN_REMAINING_SECONDS: '3000', TOKEN_REFRESH_AHEAD_SECONDS: '600' })
  t.match(message, 'TOKEN_MIN_REMAINING_SECONDS, TOKEN_REFRESH_AHEAD_SECONDS: together they must stay under')
  t.match(
    failure(t, { TOKEN_MIN_REMAINING_SECONDS: '2000', TOKEN_REFRESH_AHEAD_SECONDS: '2000' }),
    'TOKEN_MIN_REMAINING_SECONDS'
  )
})

t.test('workload identity', async (t) => {
  const workload = {
    AZURE_FEDERATED_TOKEN_FILE: '/var/run/secrets/azure/tokens/azure-identity-token',
    AZURE_CLIENT_ID: '11111111-2222-3333-4444-555555555555',
    AZURE_TENANT_ID: '66666666-7777-8888-9999-000000000000'
  }
  t.test('token file, client id and tenant id', async (t) => {
    const { identity } = load(workload)
    t.same(identity, {
      kind: 'workload',
      clientId: workload.AZURE_CLIENT_ID,
      tenantId: workload.AZURE_TENANT_ID,
      tokenFilePath: workload.AZURE_FEDERATED_TOKEN_FILE
    })
    t.notOk('authorityHost' in identity, 'no authorityHost key unless set')
  })
  t.test('with AZURE_AUTHORITY_HOST', async (t) => {
    const { identity } = load({ ...workload, AZURE_AUTHORITY_HOST: 'https://login.microsoftonline.us' })
    t.match(identity, { kind: 'workload', authorityHost: 'https://login.microsoftonline.us' })
  })
  for (const missing of ['AZURE_CLIENT_ID', 'AZURE_TENANT_ID'] as const) {
    t.test(`without ${missing}`, async (t) => {
      const message = failure(t, { ...workload, [missing]: undefined })
      t.match(message, 'AZURE_CLIENT_ID, AZURE_TENANT_ID: required with AZURE_FEDERATED_TOKEN_FILE')
    })
  }
  t.test('AZURE_TENANT_ID alone does not switch to workload identity', async (t) => {
    t.same(load({ AZURE_TENANT_ID: workload.AZURE_TENANT_ID }).identity, { kind: 'managed' })
  })
})

t.test('the returned config is deeply frozen', async (t) => {
  const config = load({
    AUTH_JWT_SECRET: undefined,
    AUTH_JWKS_URI: 'https://login.example/keys',
    AZURE_FEDERATED_TOKEN_FILE: '/token',
    AZURE_CLIENT_ID: 'client',
    AZURE_TENANT_ID: 'tenant'
  })
  for (const [path, value] of Object.entries({
    config,
    'config.account': config.account,
    'config.arm': config.arm,
    'config.auth': config.auth,
    'config.auth.callerClaims': config.auth.callerClaims,
    'config.identity': config.identity,
    'config.cache': config.cache
  })) {
    t.ok(Object.isFrozen(value), `${path} is frozen`)
  }
  // ESM modules are strict, so writes to a frozen object throw.
  t.throws(() => {
    ;(config as Config).port = 1
  }, TypeError)
  t.throws(() => {
    ;(config.arm as Config['arm']).endpoint = 'https://evil.example'
  }, TypeError)
  t.throws(() => {
    ;(config.auth.callerClaims as string[]).push('oid')
  }, TypeError)
  t.equal(config.arm.endpoint, 'https://management.azure.com')
})

t.test('trailing slashes are stripped from ARM_ENDPOINT', async (t) => {
  t.equal(load({ ARM_ENDPOINT: 'https://arm.example.test/' }).arm.endpoint, 'https://arm.example.test')
  t.equal(load({ ARM_ENDPOINT: 'https://arm.example.test///' }).arm.endpoint, 'https://arm.example.test')
  t.equal(load({ ARM_ENDPOINT: 'https://arm.example.test/base/' }).arm.endpoint, 'https://arm.example.test/base')
  t.equal(load({ ARM_ENDPOINT: 'https://127.0.0.1:8443' }).arm.endpoint, 'https://127.0.0.1:8443')
})

t.test('integer variables reject values that are not whole numbers', async (t) => {
  t.match(failure(t, { ARM_MAX_RETRIES: 'two' }), 'ARM_MAX_RETRIES: ')
  t.throws(
    () => load({ PORT: '80.5' }),
    { name: 'ConfigError', message: /PORT: / },
    'a fractional PORT is rejected, not truncated'
  )
  t.throws(
    () => load({ PORT: 'true' }),
    { name: 'ConfigError', message: /PORT: / },
    'a boolean-looking PORT is rejected'
  )
})

t.test('the shutdown delay must be shorter than the shutdown timeout', async (t) => {
  t.throws(() => load({ SHUTDOWN_DELAY_MS: '10000', SHUTDOWN_TIMEOUT_MS: '10000' }), {
    name: 'ConfigError',
    message: /SHUTDOWN_DELAY_MS, SHUTDOWN_TIMEOUT_MS: the delay must be shorter/
  })
})

t.test('load shedding: a target delay (0 turns it off) and a control interval, whole milliseconds', async (t) => {
  t.same(load({ OVERLOAD_TARGET_DELAY_MS: '0', OVERLOAD_INTERVAL_MS: '250' }).overload, {
    targetDelayMs: 0,
    intervalMs: 250
  })
  t.throws(() => load({ OVERLOAD_TARGET_DELAY_MS: '50.5' }), { message: /OVERLOAD_TARGET_DELAY_MS: / })
  t.throws(() => load({ OVERLOAD_INTERVAL_MS: '10' }), { message: /OVERLOAD_INTERVAL_MS: / })
})

t.test('a retired variable stops the broker, naming what replaced it', async (t) => {
  for (const [name, replacement] of [
    ['OVERLOAD_MAX_EVENT_LOOP_UTILIZATION', 'OVERLOAD_TARGET_DELAY_MS'],
    ['OVERLOAD_MAX_EVENT_LOOP_DELAY_MS', 'OVERLOAD_TARGET_DELAY_MS'],
    ['OVERLOAD_SAMPLE_INTERVAL_MS', 'OVERLOAD_INTERVAL_MS']
  ] as const) {
    t.throws(() => load({ [name]: '0' }), {
      name: 'ConfigError',
      message: new RegExp(`${name}: no longer read; use ${replacement}`)
    })
  }
})

t.test('the Redis tier: URL, encryption key ring and Entra authentication are checked together', async (t) => {
  const key = Buffer.alloc(32, 7).toString('base64')
  const redis = load({ REDIS_URL: 'rediss://cache.example:6380', CACHE_ENCRYPTION_KEY: `2026-11:${key}` }).redis
  t.match(redis, { url: 'rediss://cache.example:6380', commandTimeoutMs: 500, entra: undefined })
  t.equal((redis?.keyring as { value: { currentKid: string } }).value.currentKid, '2026-11')
  t.throws(() => load({ REDIS_URL: 'redis://r:6379' }), { message: /CACHE_ENCRYPTION_KEY: required with REDIS_URL/ })
  t.throws(() => load({ REDIS_URL: 'redis://r:6379', CACHE_ENCRYPTION_KEY: 'k1:short' }), {
    message: /CACHE_ENCRYPTION_KEY: key "k1" must be 32 bytes/
  })
  t.throws(() => load({ REDIS_URL: 'redis://r:6379', CACHE_ENCRYPTION_KEY: `k1:${key}`, REDIS_ENTRA_AUTH: 'true' }), {
    message: /REDIS_USERNAME: required/
  })
  t.same(
    load({
      REDIS_URL: 'redis://r:6379',
      CACHE_ENCRYPTION_KEY: `k1:${key}`,
      REDIS_ENTRA_AUTH: 'true',
      REDIS_USERNAME: 'oid'
    }).redis?.entra,
    { username: 'oid' }
  )
  t.throws(() => load({ REDIS_URL: 'http://r' }), { message: /REDIS_URL: .*\(got \(value hidden\)\)/ })
})

t.test('secrets from files: each _FILE twin replaces its variable, and both together are an error', async (t) => {
  const key = Buffer.alloc(32, 7).toString('base64')
  const fromFiles = load({
    AUDIT_HMAC_KEY: undefined,
    AUDIT_HMAC_KEY_FILE: '/mnt/secrets/audit-hmac-key',
    AUTH_JWT_SECRET: undefined,
    AUTH_JWT_SECRET_FILE: '/mnt/secrets/jwt-secret',
    REDIS_URL: 'redis://r:6379',
    CACHE_ENCRYPTION_KEY_FILE: '/mnt/secrets/cache-key'
  })
  t.same(fromFiles.auditHmacKey, { variable: 'AUDIT_HMAC_KEY_FILE', file: '/mnt/secrets/audit-hmac-key' })
  t.match(fromFiles.auth, {
    mode: 'hs256',
    secret: { variable: 'AUTH_JWT_SECRET_FILE', file: '/mnt/secrets/jwt-secret' }
  })
  t.same(fromFiles.redis?.keyring, { variable: 'CACHE_ENCRYPTION_KEY_FILE', file: '/mnt/secrets/cache-key' })

  for (const [name, value] of [
    ['AUDIT_HMAC_KEY', HMAC_KEY],
    ['AUTH_JWT_SECRET', SECRET],
    ['CACHE_ENCRYPTION_KEY', `k1:${key}`]
  ] as const) {
    const message = failure(t, { [name]: value, [`${name}_FILE`]: '/mnt/secrets/x', REDIS_URL: 'redis://r:6379' })
    t.match(message, `${name}, ${name}_FILE: set one or the other, not both`, `${name} and ${name}_FILE`)
    t.notMatch(message, value, 'without the value')
  }
  t.match(failure(t, { AUDIT_HMAC_KEY: undefined }), 'AUDIT_HMAC_KEY: required but not set (or AUDIT_HMAC_KEY_FILE)')
  t.match(
    failure(t, { AUTH_JWT_SECRET: undefined, AUTH_JWT_SECRET_FILE: '/s', AUTH_JWKS_URI: 'https://login.example/k' }),
    'AUTH_JWKS_URI, AUTH_JWT_SECRET: set exactly one'
  )
  t.match(
    failure(t, { REDIS_URL: 'redis://r:6379' }),
    /CACHE_ENCRYPTION_KEY: required with REDIS_URL, or CACHE_ENCRYPTION_KEY_FILE/
  )
})

t.test('tracing: off by default, on with an OTLP endpoint or a connection string', async (t) => {
  t.equal(load().tracing, undefined)
  t.same(load({ OTEL_EXPORTER_OTLP_ENDPOINT: 'http://collector:4318/', OTEL_TRACES_SAMPLER_ARG: '0.25' }).tracing, {
    serviceName: 'vi-token-broker',
    sampler: { name: 'parentbased_always_on', ratio: 0.25 },
    otlp: { url: 'http://collector:4318/v1/traces', protocol: 'http/protobuf' },
    azureMonitor: undefined
  })
  t.match(
    load({ OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: 'https://c.example/traces', OTEL_EXPORTER_OTLP_PROTOCOL: 'http/json' }),
    { tracing: { otlp: { url: 'https://c.example/traces', protocol: 'http/json' } } }
  )
  t.equal(load({ OTEL_EXPORTER_OTLP_ENDPOINT: 'http://c:4318', OTEL_SDK_DISABLED: 'true' }).tracing, undefined)
  const connectionString = 'InstrumentationKey=00000000-0000-0000-0000-000000000001;IngestionEndpoint=https://x/'
  t.match(load({ APPLICATIONINSIGHTS_CONNECTION_STRING: connectionString }).tracing, {
    otlp: undefined,
    azureMonitor: { connectionString }
  })
  t.match(failure(t, { OTEL_EXPORTER_OTLP_PROTOCOL: 'grpc' }), 'OTEL_EXPORTER_OTLP_PROTOCOL: ')
  t.match(failure(t, { OTEL_TRACES_SAMPLER: 'jaeger_remote' }), 'OTEL_TRACES_SAMPLER: ')
  t.match(failure(t, { OTEL_TRACES_SAMPLER_ARG: '1.5' }), 'OTEL_TRACES_SAMPLER_ARG: ')
  const hidden = failure(t, { APPLICATIONINSIGHTS_CONNECTION_STRING: 'Endpoint=secret-value' })
  t.notMatch(hidden, 'secret-value', 'the connection string is never shown')
})

t.test('accounts: the AVI_* variables, or ACCOUNTS_FILE, never both', async (t) => {
  t.match(
    failure(t, { AVI_ACCOUNT_NAME: undefined }),
    'AVI_ACCOUNT_NAME: required but not set (or name the accounts in ACCOUNTS_FILE)'
  )
  const noAvi = { AVI_SUBSCRIPTION_ID: undefined, AVI_RESOURCE_GROUP: undefined, AVI_ACCOUNT_NAME: undefined }
  const fromFile = load({ ...noAvi, ACCOUNTS_FILE: '/etc/vi/accounts.json' })
  t.equal(fromFile.account, undefined)
  t.equal(fromFile.accountsFile, '/etc/vi/accounts.json')
  t.match(failure(t, { ACCOUNTS_FILE: '/etc/vi/accounts.json' }), /AVI_SUBSCRIPTION_ID, AVI_RESOURCE_GROUP, AVI_ACCOUNT_NAME: not used with ACCOUNTS_FILE/)
})

t.test('VI_WEB_BASE_URL: https, or http on loopback; the metadata refresh interval is bounded', async (t) => {
  t.equal(load({ VI_WEB_BASE_URL: 'https://www.videoindexer.ai/' }).webBaseUrl, 'https://www.videoindexer.ai')
  t.equal(load({ VI_WEB_BASE_URL: 'http://127.0.0.1:8081' }).webBaseUrl, 'http://127.0.0.1:8081')
  t.match(failure(t, { VI_WEB_BASE_URL: 'http://videoindexer.example.net' }), /VI_WEB_BASE_URL: must be https/)
  t.equal(load({ ACCOUNT_METADATA_REFRESH_SECONDS: '600' }).accountMetadataRefreshSeconds, 600)
  t.match(failure(t, { ACCOUNT_METADATA_REFRESH_SECONDS: '5' }), /ACCOUNT_METADATA_REFRESH_SECONDS/)
})
