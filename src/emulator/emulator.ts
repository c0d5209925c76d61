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
import { ARM_WRITE_LIMITS, createWriteLimits, type WriteLimitOptions } from './rate-bucket.js'
import { createSigningKey } from './signing-key.js'
import { createTokenAuthority } from './token-authority.js'
import { urlHost } from './url-host.js'
import { widgetRoutes } from './widget-routes.js'

export type { EmulatorAccount, EmulatorCounters, Fault, FaultTarget }

export interface EmulatorOptions {
  host?: string
  armPort?: number
  port?: number
  certificateHosts?: string[]
  accounts?: EmulatorAccount[]
  tokenLifetimeSeconds?: number
  identityTokenLifetimeSeconds?: number
  /** The Entra tenant (random when absent): its tid in every token, and its issuers. */
  tenantId?: string
  /** The authority a v2.0 caller token's issuer names; the HTTP server's base URL when absent. */
  authorityHost?: string
  /** The broker's app registration: its client id (random when absent) and application ID URI. */
  brokerClientId?: string
  brokerApplicationIdUri?: string
  /** The managed-identity endpoint's shared secret; random when absent (compose fixes one). */
  identityHeader?: string
  /** ARM's write buckets; scaled-down versions let tests and the bench reach the limits quickly. */
  writeLimits?: Partial<WriteLimitOptions>
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
  /** The Entra tenant, and the authority whose {authority}/{tenant}/discovery/v2.0/keys serves its keys. */
  tenantId: string
  authorityHost: string
  /** The broker's client id and application ID URI: v2.0 and v1.0 caller tokens' aud. */
  brokerClientId: string
  brokerApplicationIdUri: string
  /** The v2.0 caller-token issuer ({authority}/{tenant}/v2.0) and audience (the client id). */
  issuer: string
  audience: string
  /** The v1.0 caller-token issuer (https://sts.windows.net/{tenant}/). */
  v1Issuer: string
  adminUrl: string
  /** The widget host's stand-in (VI_WEB_BASE_URL): /embed/{player|insights}/{accountId}/{videoId}/. */
  webBaseUrl: string
  caCertPem: string
  accounts: EmulatorAccount[]
  mintCallerToken(caller: string, options?: CallerTokenOptions): Promise<string>
  counters(): EmulatorCounters
  setFault(target: FaultTarget, fault: Fault | null): void
  reset(): void
  close(): Promise<void>
}

export const DEFAULT_CERTIFICATE_HOSTS: readonly string[] = ['localhost', '127.0.0.1', '::1']

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

  const tenantId = options.tenantId ?? randomUUID()
  const identityHeader = options.identityHeader ?? randomBytes(24).toString('base64url')
  const counters = createCounters()
  const faults = createFaults()
  const principals = createPrincipals()
  const writeLimits = createWriteLimits({ ...ARM_WRITE_LIMITS, ...options.writeLimits, now })
  const tokens = createTokenAuthority({
    key: authorityKey,
    tenantId,
    lifetimeSeconds: options.identityTokenLifetimeSeconds ?? 3600,
    now
  })
  let authorityHost = options.authorityHost?.replace(/\/+$/, '') ?? ''
  const callerIssuer = createCallerIssuer({
    key: callerKey,
    tenantId,
    app: {
      clientId: options.brokerClientId ?? randomUUID(),
      applicationIdUri: options.brokerApplicationIdUri ?? 'api://vi-token-broker'
    },
    authority: () => authorityHost,
    now
  })
  // One tenant, one key set: Entra's discovery keys list every key it signs with.
  const tenantKeys = { keys: [callerKey.publicJwk, authorityKey.publicJwk] }
  const reset = () => {
    counters.reset()
    faults.reset()
    writeLimits.reset()
  }

  const accountDirectory = createAccountDirectory(accountList)
  const logging = options.logger ? { loggerInstance: options.logger } : { logger: false }
  const arm = fastify({
    ...logging,
    https: { key: certificate.keyPem, cert: certificate.certPem },
    forceCloseConnections: true,
    routerOptions: { caseSensitive: false }
  })
  await arm.register(armRoutes, {
    prefix: '/subscriptions',
    accounts: accountDirectory,
    tokens,
    aviTokens: createAviTokenMinter({
      key: aviKey,
      tenantId,
      lifetimeSeconds: options.tokenLifetimeSeconds ?? 3600,
      now
    }),
    writeLimits,
    counters,
    faults
  })
  await arm.register(entraRoutes, { tokens, principals, counters, faults, now })
  await arm.register(jwksRoutes, { callerIssuer, tenantKeys, counters, faults })

  const http = fastify({ ...logging, forceCloseConnections: true })
  await http.register(identityRoutes, { identityHeader, tokens, principals, counters, faults })
  await http.register(jwksRoutes, { callerIssuer, tenantKeys, counters, faults })
  await http.register(widgetRoutes, { aviPublicKey: aviKey.publicKey, accounts: accountDirectory, now })
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
  authorityHost ||= httpBase
  let closing: Promise<void> | undefined
  return {
    armEndpoint: `https://${urlHost(host)}:${boundPort(arm)}`,
    identityEndpoint: `${httpBase}/msi/token`,
    identityHeader,
    jwksUri: `${httpBase}/.well-known/jwks.json`,
    jwksHttpsUri: `https://${urlHost(host)}:${boundPort(arm)}/.well-known/jwks.json`,
    tenantId,
    authorityHost,
    brokerClientId: callerIssuer.clientId,
    brokerApplicationIdUri: callerIssuer.applicationIdUri,
    issuer: callerIssuer.issuer,
    audience: callerIssuer.audience,
    v1Issuer: callerIssuer.v1Issuer,
    adminUrl: `${httpBase}/admin`,
    webBaseUrl: httpBase,
    caCertPem: certificate.certPem,
    accounts: accountList.map((account) => ({ ...account })),
    mintCallerToken: (caller, tokenOptions) => callerIssuer.mint(caller, tokenOptions),
    counters: () => counters.snapshot(),
    setFault: (target, fault) => faults.set(target, fault),
    reset,
    close: () => (closing ??= closeAll())
  }
}
