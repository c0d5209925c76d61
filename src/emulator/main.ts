import { writeFile } from 'node:fs/promises'
import { pino } from 'pino'
import { readCliConfig } from './cli-config.js'
import { startEmulator } from './emulator.js'

/** Starts the emulator from the environment, prints one ready line to stdout and logs to stderr. */
async function main (): Promise<void> {
  const config = readCliConfig(process.env)
  const logger = pino({ level: config.logLevel, name: 'azure-emulator' }, pino.destination(2))
  const emulator = await startEmulator({ ...config.options, logger })
  if (config.caFile) {
    await writeFile(config.caFile, emulator.caCertPem).catch(async (error: unknown) => {
      await emulator.close()
      throw error
    })
  }

  const { armEndpoint, identityEndpoint, identityHeader, jwksUri, jwksHttpsUri, issuer, audience, adminUrl } = emulator
  const { tenantId, authorityHost, brokerClientId, brokerApplicationIdUri, v1Issuer } = emulator
  const ready = {
    event: 'emulator-ready',
    armEndpoint,
    identityEndpoint,
    identityHeader,
    jwksUri,
    jwksHttpsUri,
    issuer,
    audience,
    adminUrl,
    tenantId,
    authorityHost,
    brokerClientId,
    brokerApplicationIdUri,
    v1Issuer
  }
  process.stdout.write(`${JSON.stringify(ready)}\n`)

  const shutdown = (signal: NodeJS.Signals) => {
    logger.info({ signal }, 'shutting down')
    void emulator.close()
  }
  process.once('SIGTERM', shutdown)
  process.once('SIGINT', shutdown)
}

main().catch((error: unknown) => {
  process.stderr.write(`azure-emulator: ${error instanceof Error ? error.message : String(error)}\n`)
  process.exitCode = 1
})
