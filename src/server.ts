import { setTimeout as sleep } from 'node:timers/promises'
import closeWithGrace from 'close-with-grace'
import { pino } from 'pino'
import Fastify from 'fastify'
import { buildApp } from './app.js'
import metricsRoutes from './routes/metrics.js'
import { ConfigError, loadConfig } from './config.js'
import { invalidConfig } from './config/config-error.js'
import { createCredential } from './credential.js'
import { loadPolicyFile, PolicyError } from './policy.js'
import { AccountsError, loadAccountsFile, type Accounts } from './accounts.js'
import { createRedisClient } from './redis-client.js'
import { createLogSink } from './log-sink.js'
import { loggerOptions } from './logger.js'
import { prettySink } from './pretty-log.js'
import { startTracing } from './tracing.js'
import { PACKAGE_VERSION } from './version.js'

// The only module that reads process.env.
async function main (): Promise<void> {
  let config
  let policy
  let accounts: Accounts | undefined
  try {
    config = loadConfig(process.env)
    if (config.accountsFile !== undefined) accounts = await loadAccountsFile(config.accountsFile)
    policy = await loadPolicyFile(config.policyFile)
  } catch (error) {
    refuseToStart(error)
  }

  const sink = createLogSink(1)
  const logStream = config.logFormat === 'pretty' ? await prettySink(sink).catch(refuseToStart) : sink
  process.on('exit', () => logStream.flushSync())
  // Before the credential and the app exist, so their spans have a provider; off unless configured.
  const tracing = config.tracing ? await startTracing(config.tracing, PACKAGE_VERSION) : undefined
  const credential = createCredential(config.identity)
  // Its logger is configured like the app's (LOG_LEVEL, redaction); the app is built after Redis connects.
  // Two connections: one for commands, one subscribed to evictions (each renews its own Entra token).
  const redisLogger = pino(loggerOptions(config.logLevel), logStream).child({ component: 'redis' })
  const [redis, redisSubscriber] = config.redis
    ? await Promise.all([
      createRedisClient(config.redis, credential, redisLogger),
      createRedisClient(config.redis, credential, redisLogger.child({ connection: 'subscriber' }))
    ])
    : []
  // A secret _FILE that cannot be read or parsed is a configuration error too.
  const app = await buildApp({
    config,
    policy,
    ...(accounts ? { accounts } : {}),
    credential,
    logStream,
    watchPolicy: true,
    ...(redis && redisSubscriber ? { redis, redisSubscriber } : {}),
    ...(tracing ? { tracing } : {})
  }).catch(refuseToStart)
  for (const client of [redis, redisSubscriber]) {
    if (client) app.addHook('onClose', async () => void (await client.quit().catch(() => client.disconnect())))
  }
  // At shutdown the spans still buffered, the last requests', are exported.
  if (tracing) {
    app.addHook('onClose', () =>
      tracing.shutdown().catch((error: unknown) => app.log.warn({ err: error }, 'the last spans could not be exported'))
    )
  }
  // Past SHUTDOWN_TIMEOUT_MS, close-with-grace exits 1 whatever is still running.
  // SIGHUP is not a shutdown here: it reloads the policy.
  closeWithGrace({ delay: config.shutdown.timeoutMs, skip: ['SIGHUP'] }, async ({ signal, err }) => {
    if (err) app.log.error({ err }, 'shutting down after an unexpected error')
    else app.log.info({ signal, delayMs: config.shutdown.delayMs }, 'shutting down')
    // Readiness turns 503 and responses say Connection: close, while we keep serving long enough for
    // Kubernetes to take the pod out of its endpoints; then in-flight requests finish and we exit 0.
    app.beginShutdown()
    await sleep(config.shutdown.delayMs)
    await app.close()
    app.log.info('shut down')
  })
  const metricsServer = config.metricsPort === undefined ? undefined : Fastify({ logger: false })
  if (metricsServer) {
    await metricsServer.register(metricsRoutes, { registry: () => app.metricsRegistry() })
    app.addHook('onClose', async () => metricsServer.close())
  }
  process.on('SIGHUP', () => void app.reloadPolicy('SIGHUP'))
  await app.listen({ port: config.port, host: config.host }).catch((error) => refuseToStart(portError(error, 'PORT')))
  if (metricsServer) {
    await metricsServer
      .listen({ port: config.metricsPort as number, host: config.host })
      .catch((error) => refuseToStart(portError(error, 'METRICS_PORT')))
  }
  const served = accounts?.all.map((account) => account.alias) ?? ['default']
  app.log.info({ callers: policy.callerCount, accounts: served }, 'vi-token-broker ready')
}

// A port in use or not allowed is a configuration error: the message names the variable to change.
function portError (error: unknown, variable: string): unknown {
  const { code, port, address } = error as { code?: string; port?: number; address?: string }
  if (code === 'EADDRINUSE') return invalidConfig(variable, `port ${port} on ${address} is in use; choose another`)
  if (code === 'EACCES') return invalidConfig(variable, `port ${port} on ${address} is not allowed for this user`)
  return error
}

function refuseToStart (error: unknown): never {
  if (error instanceof ConfigError || error instanceof PolicyError || error instanceof AccountsError) {
    process.stderr.write(`vi-token-broker cannot start. ${error.message}\n`)
    process.exit(1)
  }
  throw error
}

await main()
