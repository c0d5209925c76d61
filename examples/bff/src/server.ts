// Runs the sample BFF on its own, against a broker: BROKER_URL, BROKER_SCOPE (the broker's application ID URI plus
// /.default) and PORT. The caller JWT comes from @azure/identity (managed identity, workload identity, az login...).
import { DefaultAzureCredential } from '@azure/identity'
import { createBrokerClient } from '@vi-token-broker/client'
import { buildBff, SAMPLE_VIDEOS } from './app.js'

const broker = createBrokerClient({
  baseUrl: process.env.BROKER_URL ?? 'http://127.0.0.1:8080',
  credential: new DefaultAzureCredential(),
  scope: process.env.BROKER_SCOPE ?? 'api://vi-token-broker/.default'
})
const account = process.env.BROKER_ACCOUNT
const app = await buildBff({ broker, videos: SAMPLE_VIDEOS, ...(account ? { account } : {}) })
const url = await app.listen({ host: process.env.HOST ?? '127.0.0.1', port: Number(process.env.PORT ?? 3000) })
process.stdout.write(`sample BFF at ${url}\n`)
