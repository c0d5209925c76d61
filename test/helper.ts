import type { FastifyInstance, InjectOptions, LightMyRequestResponse } from 'fastify'
import type { Test } from 'tap'
import { buildApp, type AppOptions } from '../src/app.js'
import { loadConfig } from '../src/config.js'
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
  LOG_LEVEL: 'debug'
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
export async function build(
  t: Test,
  overrides: { env?: Record<string, string | undefined>; policy?: unknown } & Partial<Omit<AppOptions, 'config' | 'policy'>> = {}
): Promise<Built> {
  const { env, policy, ...rest } = overrides
  const logs = new LogCapture()
  const arm = fakeArm(async () => ({ status: 200, body: { accessToken: await aviToken(Math.floor(Date.now() / 1000) + 3600) } }))
  const app = await buildApp({
    config: loadConfig({ ...TEST_ENV, ...env }),
    policy: createPolicy(policy ?? TEST_POLICY),
    credential: fakeCredential().credential,
    armHttpClient: arm.client,
    logStream: logs,
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
    async request({ token, ...options }) {
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

function safeJson(text: string): unknown {
  try {
    return JSON.parse(text)
  } catch {
    return undefined
  }
}
