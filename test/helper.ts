import { randomUUID } from 'node:crypto'
import { ManagedIdentityCredential } from '@azure/identity'
import type { FastifyInstance, InjectOptions, LightMyRequestResponse } from 'fastify'
import type { Test } from 'tap'
import { buildApp, type AppOptions } from '../src/app.js'
import { loadConfig } from '../src/config.js'
import { brokerEnvironment } from '../src/emulator/broker-environment.js'
import { startEmulator, type Emulator, type EmulatorOptions } from '../src/emulator/emulator.js'
import { createPolicy } from '../src/policy.js'
import { aviToken, TEST_AUDIENCE, TEST_ISSUER, TEST_SECRET } from './support/tokens.js'
import { fakeArm, fakeCredential } from './support/fake-arm.js'
import { LogCapture } from './support/log-capture.js'

export const TEST_ENV = {
  AVI_SUBSCRIPTION_ID: 'b04775c3-63fa-40f3-9430-139d2e5522d3',
  AVI_RESOURCE_GROUP: 'contosto-azurevideoindexer-rg',
  AVI_ACCOUNT_NAME: 'contosto-azurevideoindexer',
  AUTH_JWT_SECRET: TEST_SECRET,
  AUTH_ISSUER: TEST_ISSUER,
  AUTH_AUDIENCE: TEST_AUDIENCE,
  POLICY_FILE: 'unused-in-tests.json',
  AUDIT_HMAC_KEY: 'audit-hmac-key-for-tests-0123456789abcdef',
  LOG_LEVEL: 'debug',
  SHUTDOWN_DELAY_MS: '0',
  // An app built here shares its event loop with the test driving it (app.inject, fast-check), so the
  // shedder would measure the test's own work. Tests of shedding ask for the default again.
  OVERLOAD_TARGET_DELAY_MS: '0'
}

export const TEST_POLICY = {
  callers: {
    'portal-bff': { allow: [{ scope: 'video' }, { scope: 'project', ids: ['07ec9e38d4'] }] },
    'admin-bff': { allow: [{ scope: 'account' }] }
  }
}

export interface Built {
  app: FastifyInstance
  logs: LogCapture
  /** app.inject, remembering the bearer token sent and the access token returned as secrets. */
  request(options: InjectOptions & { token?: string }): Promise<LightMyRequestResponse>
}

/**
 * Builds the app with a fake in-process ARM (answering 1-hour tokens) unless overridden, and
 * asserts at teardown that no token reached a log line.
 */
export async function build (
  t: Test,
  overrides: {
    env?: Record<string, string | undefined>
    policy?: unknown
    /** Wire the broker to a running emulator: its ARM, its managed identity and its caller JWKS. */
    emulator?: Emulator
  } & Partial<Omit<AppOptions, 'config' | 'policy'>> = {}
): Promise<Built> {
  const { env, policy, emulator, ...rest } = overrides
  const logs = new LogCapture()
  const wiring = emulator ? emulatorWiring(emulator) : fakeWiring()
  const app = await buildApp({
    config: loadConfig({ ...TEST_ENV, ...wiring.env, ...env }),
    policy: createPolicy(policy ?? TEST_POLICY),
    credential: wiring.credential,
    logStream: logs,
    ...wiring.transport,
    ...rest
  })
  t.teardown(async () => {
    await app.close()
    // Assertions are closed by teardown time, so a leak fails the test by throwing (without echoing the token).
    const leaks = logs.leaks().length
    if (leaks > 0) throw new Error(`${leaks} token(s) appeared in log lines`)
  })
  return {
    app,
    logs,
    async request ({ token, ...options }) {
      if (token !== undefined) {
        logs.secret(token)
        options.headers = { ...options.headers, authorization: `Bearer ${token}` }
      }
      const response = await app.inject(options)
      const accessToken = (safeJson(response.body) as { accessToken?: string } | undefined)?.accessToken
      logs.secret(accessToken)
      return response
    }
  }
}

function fakeWiring () {
  const arm = fakeArm(async () => ({
    status: 200,
    body: { accessToken: await aviToken(Math.floor(Date.now() / 1000) + 3600, { jti: randomUUID() }) }
  }))
  return { env: {}, credential: fakeCredential().credential, transport: { armHttpClient: arm.client } }
}

function emulatorWiring (emulator: Emulator) {
  // In process, the emulator's certificate is trusted through armTls instead of a CA file.
  const {
    IDENTITY_ENDPOINT,
    IDENTITY_HEADER,
    NODE_EXTRA_CA_CERTS: _ca,
    ...env
  } = brokerEnvironment(emulator, { caFile: '', callers: true })
  // ManagedIdentityCredential (through MSAL) reads these when it is constructed.
  process.env.IDENTITY_ENDPOINT = IDENTITY_ENDPOINT
  process.env.IDENTITY_HEADER = IDENTITY_HEADER
  return {
    // Entra mode, as `npm run dev` runs it: the test config's HS256 settings do not apply.
    env: { ...env, AUTH_JWT_SECRET: undefined, AUTH_ISSUER: undefined, AUTH_AUDIENCE: undefined },
    credential: new ManagedIdentityCredential(),
    transport: { armTls: { ca: emulator.caCertPem } }
  }
}

/** Starts the bundled emulator on ephemeral loopback ports for one test. */
export async function emulatorFor (t: Test, options: EmulatorOptions = {}): Promise<Emulator> {
  const emulator = await startEmulator(options)
  t.teardown(() => emulator.close())
  return emulator
}

function safeJson (text: string): unknown {
  try {
    return JSON.parse(text)
  } catch {
    return undefined
  }
}
