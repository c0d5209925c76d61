import { randomUUID } from 'node:crypto'
import type { HttpClient, TlsSettings } from '@azure/core-rest-pipeline'
import type { TokenCredential } from '@azure/identity'
import Fastify, { LogController, type FastifyBaseLogger, type FastifyInstance } from 'fastify'
import { pino } from 'pino'
import { createAuditor, type AuditDestination } from './audit.js'
import { systemClock, type Clock } from './clock.js'
import type { Config } from './config.js'
import { brokerError } from './errors.js'
import { loggerOptions } from './logger.js'
import { CALLER_PATH, unroutedAudit } from './plugins/audit-trail.js'
import type { JwksState } from './auth.js'
import authenticate from './plugins/authenticate.js'
import { clientErrorHandler } from './plugins/client-errors.js'
import errorHandler, { sendError } from './plugins/error-handler.js'
import httpEdge from './plugins/http-edge.js'
import securityHeaders from './plugins/security-headers.js'
import type { Policy } from './policy.js'
import healthRoutes from './routes/health.js'
import callerRoutes from './routes/caller-routes.js'
import type { Redis } from 'ioredis'
import { createMetrics } from './metrics.js'
import { createPolicyStore, type ReloadResult } from './policy-store.js'
import { openSecrets } from './secrets.js'
import { createTokenPath } from './token-path.js'
import type { PoolIdentity } from './arm.js'
import type { Account } from './token-source.js'
import { createIdentityPool } from './credential.js'
import { statusReport } from './status.js'
import type { Tracing } from './tracing.js'
import { PACKAGE_VERSION } from './version.js'
import metricsRoutes from './routes/metrics.js'
import type { Registry } from 'prom-client'
import { createAccountMetadata } from './account-metadata.js'
import { accountsFromText, loadAccountsFile, readAccountsFile, singleAccount, type Accounts } from './accounts.js'
import { createFileStore } from './file-store.js'

export interface AppOptions {
  config: Readonly<Config>
  policy: Policy
  /** The accounts served; by default ACCOUNTS_FILE's, or the one account of the AVI_* variables. */
  accounts?: Accounts
  /** Where the first Accounts_Get retry waits from (backoff doubles it); tests shorten it. */
  accountMetadataRetryMs?: number
  /** The broker's Azure identity: ManagedIdentityCredential or WorkloadIdentityCredential in production. */
  credential: TokenCredential
  /**
   * Where log lines go: a LogSink on stdout in production, a capture stream in tests. If it can say
   * when lines are written (committed()), each response waits for its audit record.
   */
  logStream: AuditDestination
  clock?: Clock
  /** The identity pool; by default one credential per AZURE_CLIENT_IDS entry, or `credential` alone. */
  identities?: readonly PoolIdentity[]
  /** ARM transport overrides, for the emulator and tests. */
  armHttpClient?: HttpClient
  armTls?: TlsSettings
  /** Reload the policy (and ACCOUNTS_FILE) when its file changes (the server does; most tests need not). */
  watchPolicy?: boolean
  /** The shared Redis tier's client, when config.redis is set (see createRedisClient). */
  redis?: Redis
  /** A second Redis connection that listens for evictions; by default a duplicate of `redis`. */
  redisSubscriber?: Redis
  /** OpenTelemetry, when config.tracing is set (see startTracing); its owner shuts it down. */
  tracing?: Tracing
}

const REQUEST_ID = /^[A-Za-z0-9._:-]{1,128}$/

/** Builds the broker, not yet listening. Everything that leaves the process is passed in. */
export async function buildApp (options: AppOptions): Promise<FastifyInstance> {
  const { config, policy, credential, clock = systemClock } = options
  const startedAt = clock.now()
  const logger = pino(loggerOptions(config.logLevel), options.logStream)

  const app = Fastify({
    loggerInstance: logger as FastifyBaseLogger,
    // Token routes write one audit record each; a second access line per request would only add cost.
    logController: new LogController({ disableRequestLogging: true, requestIdLogLabel: 'reqId' }),
    genReqId: (request) => {
      const offered = request.headers['x-request-id']
      return typeof offered === 'string' && REQUEST_ID.test(offered) ? offered : randomUUID()
    },
    routerOptions: { caseSensitive: false, ignoreTrailingSlash: true },
    clientErrorHandler,
    // A URL that cannot be decoded never reaches a route; answer it in the same error shape, audited
    // when it was meant for a caller route.
    frameworkErrors: (error, request, reply) => {
      // No caller was verified, so the connection is not kept (as http-edge does for routed requests).
      reply.header('x-request-id', request.id).header('connection', 'close')
      const answer = brokerError('INVALID_REQUEST', { cause: error })
      if (CALLER_PATH.test(request.url)) void answerUnrouted(request, reply, answer)
      else sendError(request, reply, answer)
    },
    bodyLimit: 1024,
    // HEAD would mint tokens like GET while showing nothing; the API is GET and DELETE, and POST for batches.
    exposeHeadRoutes: false,
    // The slowest legitimate request is one ARM mint; anything slower is a stuck client.
    requestTimeout: config.arm.timeoutMs + 5_000,
    connectionTimeout: config.arm.timeoutMs + 5_000,
    keepAliveTimeout: 65_000
  })

  // First, so the server span covers every hook of every request.
  if (options.tracing) await options.tracing.register(app)
  let shuttingDown = false
  app.decorate('beginShutdown', () => {
    shuttingDown = true
  })
  app.addHook('onRequest', async (request, reply) => {
    reply.header('x-request-id', request.id)
    // Clients and proxies reconnect elsewhere instead of keeping a connection to a pod that is leaving.
    if (shuttingDown) reply.header('connection', 'close')
  })
  // Only POST /tokens/batch takes a body (its scope parses JSON); elsewhere none is parsed, so none can fail to
  // parse (Node discards it).
  app.removeAllContentTypeParsers()
  app.addContentTypeParser('*', (_request, _payload, done) => done(null))
  await app.register(errorHandler)
  await app.register(securityHeaders)
  // Registered before the routes, so the document sees them.
  // Loaded only when used: Swagger UI is the slowest import at start-up.
  if (config.docsEnabled) await app.register((await import('./plugins/docs.js')).default, { version: PACKAGE_VERSION })
  const metrics = createMetrics()
  const secrets = openSecrets(config, {
    logger,
    onReload: (variable, result) => metrics.secretReloads.inc({ variable, result })
  })
  app.addHook('onClose', async () => secrets.close())
  const auth =
    config.auth.mode === 'hs256' ? { ...config.auth, secret: secrets.jwtSecret as () => string } : config.auth
  // jose keeps the caller key set here (JWKS and Entra modes), for the status page.
  const jwks: JwksState | undefined = config.auth.mode === 'hs256' ? undefined : {}
  await app.register(authenticate, { auth, clock, jwks })
  await app.register(httpEdge, { headersTimeoutMs: config.headersTimeoutMs })

  const policyStore = createPolicyStore({
    file: config.policyFile,
    initial: policy,
    logger,
    onReload: (result) => metrics.policyReloads.inc({ result }),
    clock
  })
  if (options.watchPolicy) policyStore.watch()
  app.addHook('onClose', async () => policyStore.close())

  const auditor = createAuditor({ stream: options.logStream, hmacKey: secrets.auditHmacKey, file: config.auditLogFile })
  app.addHook('onClose', async () => auditor.close())
  const initialAccounts =
    options.accounts ??
    (config.accountsFile === undefined
      ? singleAccount(config.account as Account)
      : await loadAccountsFile(config.accountsFile))
  const accountsStore = createFileStore({
    what: 'accounts',
    /* c8 ignore next: without ACCOUNTS_FILE there is nothing to reload (reload() rejects: see the config test) */
    file: config.accountsFile ?? '',
    initial: initialAccounts,
    read: readAccountsFile,
    parse: accountsFromText,
    describe: (accounts) => ({ accounts: accounts.all.length, default: accounts.default.alias }),
    logger,
    onReload: (result) => metrics.accountReloads.inc({ result }),
    onApplied: (accounts) => metadata.sync(accounts.all),
    clock
  })
  const accounts = () => accountsStore.current()
  if (options.watchPolicy && config.accountsFile !== undefined) accountsStore.watch()
  app.addHook('onClose', async () => accountsStore.close())
  // SIGHUP re-reads both files the operator edits.
  app.decorate('reloadPolicy', async (reason: string) => {
    if (config.accountsFile !== undefined) await accountsStore.reload(reason)
    return policyStore.reload(reason)
  })

  const answerUnrouted = unroutedAudit({
    auditor,
    accounts,
    policy: () => policyStore.current(),
    metrics,
    clock
  })
  const tokenPath = createTokenPath({
    config,
    identities: options.identities ?? createIdentityPool(config, credential),
    clock,
    metrics,
    logger,
    fingerprint: auditor.fingerprint,
    keyring: secrets.keyring,
    redis: options.redis,
    redisSubscriber: options.redisSubscriber,
    armHttpClient: options.armHttpClient,
    armTls: options.armTls,
    tracing: options.tracing
  })
  const { tokens, armGate } = tokenPath
  app.addHook('onClose', tokenPath.close)
  // Read at start and then periodically; readiness does not wait (cached tokens need no account id).
  const metadata = createAccountMetadata({
    read: (account) => tokenPath.arm.readAccount(account),
    clock,
    refreshMs: config.accountMetadataRefreshSeconds * 1000,
    ...(options.accountMetadataRetryMs === undefined ? {} : { retryBaseMs: options.accountMetadataRetryMs }),
    logger: logger.child({ component: 'account-metadata' }),
    onRead: (alias, result) => metrics.accountMetadataReads.inc({ account: alias, result })
  })
  metadata.sync(accounts().all)
  app.addHook('onClose', async () => metadata.close())

  const scrape = async () => {
    metrics.cacheEntries.set(tokens.size)
    metrics.armInFlight.set(armGate.stats().inFlight)
    return metrics.registry
  }
  app.decorate('metricsRegistry', scrape)

  await app.register(healthRoutes, { isReady: () => !shuttingDown })
  if (config.metricsPort === undefined) await app.register(metricsRoutes, { registry: scrape })
  await app.register(callerRoutes, {
    accounts,
    metadata,
    webBaseUrl: config.webBaseUrl,
    policy: () => policyStore.current(),
    tokens,
    rateLimitRedis: options.redis,
    auditor,
    metrics,
    overload: { ...config.overload, metrics },
    clock,
    tracing: options.tracing,
    batchMaxItems: config.batch.maxItems,
    status: () =>
      statusReport({
        version: PACKAGE_VERSION,
        clock,
        startedAt,
        subscriptionId: accounts().default.subscriptionId,
        accounts: accounts().all,
        metadata,
        observed: tokenPath.observed,
        armGate,
        policy: policyStore,
        jwks,
        tokens,
        metrics,
        redisConfigured: options.redis !== undefined
      })
  })
  return app
}

declare module 'fastify' {
  interface FastifyInstance {
    /** Starts a graceful shutdown: /readyz turns 503 and responses carry Connection: close. */
    beginShutdown(): void
    /** Re-reads ACCOUNTS_FILE and the policy file (SIGHUP); an invalid file is rejected and the old one kept. */
    reloadPolicy(reason: string): Promise<ReloadResult>
    /** The Prometheus registry, refreshed for a scrape; served at /metrics or on METRICS_PORT. */
    metricsRegistry(): Promise<Registry>
  }
}
