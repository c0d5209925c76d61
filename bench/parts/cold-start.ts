// Part 5, cold start: from spawn() to the first 200 from /readyz, for the bundle and the unbundled build.
import { writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { freePort, startBrokerProcess } from '../../scripts/broker-process.js'
import { startEmulator, type Emulator } from '../../src/emulator/emulator.js'
import { AUDIT_HMAC_KEY, benchPolicy, log, median, NO_PROXY_ENV, round } from '../common.js'
import { serverCommands } from '../build.js'
import type { BenchContext } from '../results.js'

const settings = (smoke: boolean) => ({ runs: smoke ? 1 : 5 })

export interface ColdStartResult {
  runner: string
  docsEnabled: boolean
  medianMs: number
  maxMs: number
  runs: number[]
}

async function coldStartOnce (args: string[], env: Record<string, string>): Promise<number> {
  const port = await freePort()
  const started = performance.now()
  const broker = await startBrokerProcess({ args, env, port, stdout: 'ignore' })
  try {
    await broker.ready({ intervalMs: 2, timeoutMs: 20_000 })
    return performance.now() - started
  } finally {
    await broker.stop()
  }
}

/**
 * Not startBrokerProcess's `emulator` wiring: its NODE_EXTRA_CA_CERTS makes Node load a CA file at
 * start (about 40 ms here), which a broker on AKS, talking to the real ARM, does not do; ready needs no ARM call.
 */
function environment (emulator: Emulator, policyFile: string): Record<string, string> {
  const account = emulator.accounts[0] as Emulator['accounts'][number]
  return {
    ...NO_PROXY_ENV,
    LOG_LEVEL: 'info',
    AVI_SUBSCRIPTION_ID: account.subscriptionId,
    AVI_RESOURCE_GROUP: account.resourceGroup,
    AVI_ACCOUNT_NAME: account.accountName,
    ARM_ENDPOINT: emulator.armEndpoint,
    AUTH_JWKS_URI: emulator.jwksUri,
    AUTH_ISSUER: emulator.issuer,
    AUTH_AUDIENCE: emulator.audience,
    POLICY_FILE: policyFile,
    AUDIT_HMAC_KEY,
    IDENTITY_ENDPOINT: emulator.identityEndpoint,
    IDENTITY_HEADER: emulator.identityHeader,
    SHUTDOWN_DELAY_MS: '0'
  }
}

export async function coldStart (context: BenchContext): Promise<ColdStartResult[]> {
  const commands = await serverCommands()
  const policyFile = join(context.work, 'policy.json')
  writeFileSync(policyFile, JSON.stringify(benchPolicy()))
  const emulator = await startEmulator()
  try {
    const env = environment(emulator, policyFile)
    const variants = commands.flatMap(({ args, runner }, i) => [
      { runner, docs: true, args, runs: [] as number[] },
      // DOCS_ENABLED=false, as in the Kubernetes manifests, for the entry that ships.
      ...(i === 0 ? [{ runner, docs: false, args, runs: [] as number[] }] : [])
    ])
    for (const { args } of commands) await coldStartOnce(args, env) // warms the OS file cache; not counted
    for (let i = 0; i < settings(context.smoke).runs; i++) {
      for (const variant of variants) {
        variant.runs.push(await coldStartOnce(variant.args, variant.docs ? env : { ...env, DOCS_ENABLED: 'false' }))
      }
    }
    const summary = variants.map(({ runner, docs, runs }) => ({
      runner,
      docsEnabled: docs,
      medianMs: round(median(runs), 0),
      maxMs: round(Math.max(...runs), 0),
      runs: runs.map((x) => round(x, 0))
    }))
    log(`cold start (${summary[0]?.runner}): median ${summary[0]?.medianMs} ms`)
    return summary
  } finally {
    await emulator.close()
  }
}
