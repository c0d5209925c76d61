// A child process of the bench (bench/server-ipc.ts): one server under test, on a loopback port, driven over IPC.
//   broker   : the real broker (buildApp) wired to an in-process emulator (ARM, managed identity, JWKS),
//              audit log through the production log sink to a real file; optional fake clock.
//   bare     : baseline (a), a bare Fastify route answering the same JSON.
//   bare-jwt : baseline (b), the same plus @fastify/jwt verifying the same JWT (same algorithm and key,
//              verified-token cache on).
import { createPublicKey } from 'node:crypto'
import { openSync } from 'node:fs'
import { ManagedIdentityCredential } from '@azure/identity'
import fastifyJwt from '@fastify/jwt'
import Fastify, { type FastifyInstance } from 'fastify'
import { buildApp } from '../src/app.js'
import { loadConfig } from '../src/config.js'
import { createLogSink } from '../src/log-sink.js'
import { startEmulator, type Emulator, type Fault } from '../src/emulator/emulator.js'
import { createPolicy } from '../src/policy.js'
import { startTracing } from '../src/tracing.js'
import { startCollector } from './collector.js'
import {
  type ArmTarget,
  AUDIENCE,
  AUDIT_HMAC_KEY,
  benchPolicy,
  CALLER_COUNT,
  callerName,
  createFakeClock,
  HS256_SECRET,
  hs256CallerToken,
  ISSUER,
  type ServerArgs
} from './common.js'

type Message = { id: number; cmd: string; [key: string]: unknown }

const args = JSON.parse(process.argv[2] ?? '{}') as ServerArgs
const send = (message: unknown) => process.send?.(message)
const handlers: Record<string, (message: Message) => Promise<unknown>> = {}
let closeAll: () => Promise<void> = async () => {}

process.on('message', (raw) => {
  const message = raw as Message
  const handler = handlers[message.cmd]
  if (!handler) {
    send({ id: message.id, error: `unknown command ${message.cmd}` })
    return
  }
  handler(message).then(
    (result) => send({ id: message.id, result }),
    (error: unknown) => send({ id: message.id, error: String((error as Error).stack ?? error) })
  )
})
handlers.close = async () => {
  await closeAll()
  setImmediate(() => process.exit(0))
  return true
}
process.on('disconnect', () => void closeAll().finally(() => process.exit(0)))

async function listen (app: FastifyInstance): Promise<string> {
  await app.listen({ host: '127.0.0.1', port: 0 })
  const { port } = app.server.address() as { port: number }
  return `http://127.0.0.1:${port}`
}

async function startBroker (): Promise<void> {
  const clock = createFakeClock()
  const emulator = await startEmulator({
    ...(args.fakeClock ? { now: () => clock.now() } : {}),
    ...(args.identityTokenLifetimeSeconds ? { identityTokenLifetimeSeconds: args.identityTokenLifetimeSeconds } : {})
  })
  const account = emulator.accounts[0] as Emulator['accounts'][number]
  const collector = args.tracing ? await startCollector() : undefined
  process.env.IDENTITY_ENDPOINT = emulator.identityEndpoint
  process.env.IDENTITY_HEADER = emulator.identityHeader
  const config = loadConfig({
    AVI_SUBSCRIPTION_ID: account.subscriptionId,
    AVI_RESOURCE_GROUP: account.resourceGroup,
    AVI_ACCOUNT_NAME: account.accountName,
    ARM_ENDPOINT: emulator.armEndpoint,
    ...(args.auth === 'jwks' ? { AUTH_JWKS_URI: emulator.jwksUri } : { AUTH_JWT_SECRET: HS256_SECRET }),
    AUTH_ISSUER: ISSUER,
    AUTH_AUDIENCE: AUDIENCE,
    POLICY_FILE: 'bench-policy.json', // the policy is passed in below; the file is never read
    AUDIT_HMAC_KEY,
    LOG_LEVEL: 'info',
    // Nothing else is set: every part measures the broker's default configuration.
    ...(args.refreshAheadSeconds === undefined
      ? {}
      : { TOKEN_REFRESH_AHEAD_SECONDS: String(args.refreshAheadSeconds) }),
    // Tracing as an operator turns it on: the standard variable, every other setting its default.
    ...(collector ? { OTEL_EXPORTER_OTLP_ENDPOINT: collector.url } : {})
  })
  const tracing = config.tracing ? await startTracing(config.tracing, 'bench') : undefined
  // The broker's production log destination (see src/server.ts), on a real file.
  const logStream = createLogSink(openSync(args.logFile ?? '/dev/null', 'a'))
  const app = await buildApp({
    config,
    policy: createPolicy(benchPolicy()),
    credential: new ManagedIdentityCredential(),
    logStream,
    ...(args.fakeClock ? { clock } : {}),
    ...(tracing ? { tracing } : {}),
    armTls: { ca: emulator.caCertPem }
  })
  const url = await listen(app)
  closeAll = async () => {
    await app.close()
    await tracing?.shutdown()
    await collector?.close()
    await emulator.close()
    logStream.close()
  }

  // Entra-shaped tokens in JWKS mode, for the issuer and audience the bench configures. On a fake clock they
  // are minted at its time, so a part that replays a day asks for new ones as it goes (caller-tokens); they
  // live 12 hours (within AUTH_MAX_TOKEN_LIFETIME_SECONDS), so that a renewal every few simulated hours keeps up.
  const entraShaped = { expiresInSeconds: 12 * 3600, claims: { iss: ISSUER, aud: AUDIENCE } }
  const mintCallerTokens = async () => {
    const tokens: string[] = []
    for (let i = 0; i < CALLER_COUNT; i++) {
      tokens.push(
        args.auth === 'jwks'
          ? await emulator.mintCallerToken(callerName(i), entraShaped)
          : await hs256CallerToken(callerName(i))
      )
    }
    return tokens
  }
  const callerTokens = await mintCallerTokens()

  handlers.counters = async () => emulator.counters()
  handlers['caller-tokens'] = mintCallerTokens
  handlers.exports = async () => collector?.exports() ?? { requests: 0, bytes: 0 }
  handlers.reset = async () => emulator.reset()
  handlers.fault = async (message) => emulator.setFault('arm', (message.fault as Fault | null) ?? null)
  handlers['start-clock'] = async (message) => clock.start(message.speedup as number)
  handlers['arm-target'] = async () => armTarget(emulator)
  send({ type: 'ready', url, jwksUri: emulator.jwksUri, callerTokens })
}

/** What a client needs to call the emulated ARM itself: the bench's direct-call baseline for the miss path. */
function armTarget (emulator: Emulator): ArmTarget {
  const account = emulator.accounts[0] as Emulator['accounts'][number]
  return {
    url:
      `${emulator.armEndpoint}/subscriptions/${account.subscriptionId}/resourceGroups/${account.resourceGroup}` +
      `/providers/Microsoft.VideoIndexer/accounts/${account.accountName}` +
      '/generateRestrictedViewerAccessToken?api-version=2024-01-01',
    caCertPem: emulator.caCertPem,
    identityEndpoint: emulator.identityEndpoint,
    identityHeader: emulator.identityHeader
  }
}

async function startBare (withJwt: boolean): Promise<void> {
  const app = Fastify({ logger: false })
  if (withJwt) {
    let secret: string | { public: string } = HS256_SECRET
    if (args.auth === 'jwks') {
      // The same key the broker resolves from the JWKS, given to @fastify/jwt once as a static PEM.
      const jwks = (await (await fetch(args.jwksUri as string)).json()) as { keys: Array<Record<string, unknown>> }
      // Verify-only: a public key with no private one (a PEM string alone would be taken as a signing key too).
      secret = {
        public: createPublicKey({ key: jwks.keys[0] as never, format: 'jwk' }).export({
          type: 'spki',
          format: 'pem'
        }) as string
      }
    }
    await app.register(fastifyJwt, {
      secret,
      verify: {
        algorithms: [args.auth === 'jwks' ? 'RS256' : 'HS256'],
        allowedIss: ISSUER,
        allowedAud: AUDIENCE,
        requiredClaims: ['exp'],
        clockTolerance: 60_000,
        cache: true
      }
    })
    app.addHook('onRequest', async (request) => {
      await request.jwtVerify()
    })
  }
  const body = args.body
  app.get('/tokens/video/:videoId', async () => body)
  const url = await listen(app)
  closeAll = () => app.close()
  send({ type: 'ready', url })
}

if (args.role === 'broker') await startBroker()
else await startBare(args.role === 'bare-jwt')
