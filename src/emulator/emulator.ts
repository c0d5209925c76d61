import { randomBytes, randomUUID } from 'node:crypto'
import fastify from 'fastify'
import type { FastifyBaseLogger, FastifyInstance } from 'fastify'
import { DEFAULT_ACCOUNT, createAccountDirectory } from './accounts.js'
import type { EmulatorAccount } from './accounts.js'
import { adminRoutes } from './admin-routes.js'
import { armRoutes } from './arm-routes.js'
import { createAviTokenMinter } from './avi-tokens.js'
import { createCallerIssuer } from './caller-issuer.js'
import type { CallerTokenOptions } from './caller-issuer.js'
import { createCertificate } from './certificate.js'
import { createCounters } from './counters.js'
import type { EmulatorCounters } from './counters.js'
import { entraRoutes } from './entra-routes.js'
import { createFaults } from './faults.js'
import type { Fault, FaultTarget } from './faults.js'
import { identityRoutes } from './identity-routes.js'
import { jwksRoutes } from './jwks-routes.js'
import { createPrincipals } from './principals.js'
import { createRateBuckets } from './rate-bucket.js'
import { createSigningKey } from './signing-key.js'
import { createTokenAuthority } from './token-authority.js'
import { urlHost } from './url-host.js'

export type { EmulatorAccount, EmulatorCounters, Fault, FaultTarget }

export interface EmulatorOptions {
  host?: string
  armPort?: number
  port?: number
  certificateHosts?: string[]
  accounts?: EmulatorAccount[]
  tokenLifetimeSeconds?: number
  identityTokenLifetimeSeconds?: number
  callerIssuer?: string
  callerAudience?: string
  /** The managed-identity endpoint's shared secret; random when absent (compose fixes one). */
  identityHeader?: string
  now?: () => number
  /** Request logs (pino-compatible); silent when absent. Tokens are never logged. */
  logger?: FastifyBaseLogger
}

export interface Emulator {
  armEndpoint: string
  identityEndpoint: string
  identityHeader: string
  jwksUri: string
  /** The same caller JWKS over HTTPS, for brokers that are not on loopback (compose). */
  jwksHttpsUri: string
  issuer: string
  audience: string
  adminUrl: string
  caCertPem: string
  accounts: EmulatorAccount[]
  mintCallerToken(caller: string, options?: CallerTokenOptions): Promise<string>
  counters(): EmulatorCounters
  setFault(target: FaultTarget, fault: Fault | null): void
  reset(): void
  close(): Promise<void>
}

export const DEFAULT_CERTIFICATE_HOSTS: readonly string[] = ['localhost', '127.0.0.1', '::1']

/** ARM's write limit: a bucket of 200 per subscription and principal, refilled at 10 per second. */
const WRITE_BUCKET = { capacity: 200, refillPerSecond: 10 }

function boundPort (app: FastifyInstance): number {
  return (app.server.address() as { port: number }).port
}

/** Starts the ARM (HTTPS) and identity/JWKS/admin (HTTP) servers on real sockets. */
export async function startEmulator (options: EmulatorOptions = {}): Promise<Emulator> {
  const host = options.host ?? '127.0.0.1'
  const now = options.now ?? Date.now
  const accountList = (options.accounts ?? [DEFAULT_ACCOUNT]).map((account) => ({ ...account }))
  const [certificate, callerKey, aviKey, authorityKey] = await Promise.all([
    createCertificate(options.certificateHosts ?? DEFAULT_CERTIFICATE_HOSTS),
    createSigningKey(),
    createSigningKey(),
    createSigningKey()
  ])

  const tenantId = randomUUID()
  const identityHeader = options.identityHeader ?? randomBytes(24).toString('base64url')
  const counters = createCounters()
  const faults = createFaults()
  const principals = createPrincipals()
  const writeBuckets = createRateBuckets({ ...WRITE_BUCKET, now })
  const tokens = createTokenAuthority({
    key: authorityKey,
    tenantId,
    lifetimeSeconds: options.identityTokenLifetimeSeconds ?? 3600,
    now
  })
  const callerIssuer = createCallerIssuer({
    key: callerKey,
    issuer: options.callerIssuer ?? 'https://login.emulator.local/vi-token-broker/v2.0',
    audience: options.callerAudience ?? 'api://vi-token-broker',
    now
  })
  const reset = () => {
    counters.reset()
    faults.reset()
    writeBuckets.reset()
  }

  const logging = options.logger ? { loggerInstance: options.logger } : { logger: false }
  const arm = fastify({
    ...logging,
    https: { key: certificate.keyPem, cert: certificate.certPem },
    forceCloseConnections: true,
    routerOptions: { caseSensitive: false }
  })
  await arm.register(armRoutes, {
    prefix: '/subscriptions',
    accounts: createAccountDirectory(accountList),
    tokens,
    aviTokens: createAviTokenMinter({
      key: aviKey,
      tenantId,
      lifetimeSeconds: options.tokenLifetimeSeconds ?? 3600,
      now
    }),
    writeBuckets,
    counters,
    faults
  })
  await arm.register(entraRoutes, {
    tokens,
    principals,
    jwks: { keys: [authorityKey.publicJwk] },
    counters,
    faults,
    now
  })
  await arm.register(jwksRoutes, { callerIssuer, counters, faults })

  const http = fastify({ ...logging, forceCloseConnections: true })
  await http.register(identityRoutes, { identityHeader, tokens, principals, counters, faults })
  await http.register(jwksRoutes, { callerIssuer, counters, faults })
  await http.register(adminRoutes, { prefix: '/admin', counters, faults, callerIssuer, reset })

  const closeAll = async () => {
    faults.close()
    await Promise.all([arm.close(), http.close()])
  }
  try {
    await arm.listen({ host, port: options.armPort ?? 0 })
    await http.listen({ host, port: options.port ?? 0 })
  } catch (error) {
    await closeAll()
    throw error
  }

  const httpBase = `http://${urlHost(host)}:${boundPort(http)}`
  let closing: Promise<void> | undefined
  return {
    armEndpoint: `https://${urlHost(host)}:${boundPort(arm)}`,
    identityEndpoint: `${httpBase}/msi/token`,
    identityHeader,
    jwksUri: `${httpBase}/.well-known/jwks.json`,
    jwksHttpsUri: `https://${urlHost(host)}:${boundPort(arm)}/.well-known/jwks.json`,
    issuer: callerIssuer.issuer,
    audience: callerIssuer.audience,
    adminUrl: `${httpBase}/admin`,
    caCertPem: certificate.certPem,
    accounts: accountList.map((account) => ({ ...account })),
    mintCallerToken: (caller, tokenOptions) => callerIssuer.mint(caller, tokenOptions),
    counters: () => counters.snapshot(),
    setFault: (target, fault) => faults.set(target, fault),
    reset,
    close: () => (closing ??= closeAll())
  }
}
