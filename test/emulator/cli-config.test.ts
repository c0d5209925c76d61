import t from 'tap'
import { readCliConfig } from '../../src/emulator/cli-config.js'

t.test('defaults', async (t) => {
  t.same(readCliConfig({}), {
    options: {
      host: '127.0.0.1',
      armPort: 8443,
      port: 8081,
      certificateHosts: ['localhost', '127.0.0.1', '::1'],
      tokenLifetimeSeconds: 3600,
      writeLimits: { capacity: 200, refillPerSecond: 10, subscriptionMultiplier: 15 }
    },
    logLevel: 'info'
  })
})

t.test('every variable', async (t) => {
  const config = readCliConfig({
    EMULATOR_HOST: '0.0.0.0',
    EMULATOR_ARM_PORT: '9443',
    EMULATOR_PORT: '0',
    EMULATOR_CERT_HOSTS: 'emulator, localhost ,,azure-emulator',
    EMULATOR_CA_FILE: '/tmp/ca.pem',
    EMULATOR_TOKEN_LIFETIME_SECONDS: '300',
    EMULATOR_WRITE_BURST: '20',
    EMULATOR_WRITES_PER_SECOND: '2',
    EMULATOR_SUBSCRIPTION_WRITE_MULTIPLIER: '3',
    EMULATOR_IDENTITY_HEADER: 'fixed-header-for-compose',
    EMULATOR_TENANT_ID: '8c406f87-77ac-4ebb-a401-e8562450630e',
    EMULATOR_AUTHORITY_HOST: 'https://emulator:8443',
    EMULATOR_BROKER_CLIENT_ID: '3f6e1c2a-9b8d-4e7f-a1b2-c3d4e5f60718',
    EMULATOR_LOG_LEVEL: 'silent'
  })
  t.same(config, {
    options: {
      host: '0.0.0.0',
      armPort: 9443,
      port: 0,
      certificateHosts: ['localhost', '127.0.0.1', '::1', 'emulator', 'azure-emulator'],
      tokenLifetimeSeconds: 300,
      writeLimits: { capacity: 20, refillPerSecond: 2, subscriptionMultiplier: 3 },
      identityHeader: 'fixed-header-for-compose',
      tenantId: '8c406f87-77ac-4ebb-a401-e8562450630e',
      authorityHost: 'https://emulator:8443',
      brokerClientId: '3f6e1c2a-9b8d-4e7f-a1b2-c3d4e5f60718'
    },
    caFile: '/tmp/ca.pem',
    logLevel: 'silent'
  })
})

t.test('invalid values name their variable', async (t) => {
  const cases: [Record<string, string>, RegExp][] = [
    [{ EMULATOR_ARM_PORT: 'https' }, /^EMULATOR_ARM_PORT must be an integer from 0 to 65535, got 'https'$/],
    [{ EMULATOR_PORT: '65536' }, /^EMULATOR_PORT /],
    [{ EMULATOR_PORT: '-1' }, /^EMULATOR_PORT /],
    [{ EMULATOR_TOKEN_LIFETIME_SECONDS: '0' }, /^EMULATOR_TOKEN_LIFETIME_SECONDS /],
    [{ EMULATOR_TOKEN_LIFETIME_SECONDS: '1.5' }, /^EMULATOR_TOKEN_LIFETIME_SECONDS /],
    [{ EMULATOR_LOG_LEVEL: 'loud' }, /^EMULATOR_LOG_LEVEL /],
    [{ EMULATOR_TENANT_ID: 'contoso.onmicrosoft.com' }, /^EMULATOR_TENANT_ID must be a lower-case GUID/],
    [{ EMULATOR_BROKER_CLIENT_ID: '3F6E1C2A-9B8D-4E7F-A1B2-C3D4E5F60718' }, /^EMULATOR_BROKER_CLIENT_ID /],
    [{ EMULATOR_WRITE_BURST: '0' }, /^EMULATOR_WRITE_BURST /],
    [{ EMULATOR_WRITES_PER_SECOND: '0.5' }, /^EMULATOR_WRITES_PER_SECOND /],
    [{ EMULATOR_SUBSCRIPTION_WRITE_MULTIPLIER: 'x' }, /^EMULATOR_SUBSCRIPTION_WRITE_MULTIPLIER /]
  ]
  for (const [env, message] of cases) t.throws(() => readCliConfig(env), { message }, JSON.stringify(env))
})
