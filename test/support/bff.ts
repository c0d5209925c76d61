// The sample BFF (examples/bff) on a loopback port, calling a real broker through the client.
import type { Test } from 'tap'
import { createBrokerClient } from '@vi-token-broker/client'
import { buildBff, SAMPLE_VIDEOS } from '../../examples/bff/src/app.js'
import { build, emulatorFor } from '../helper.js'
import type { Emulator } from '../../src/emulator/emulator.js'

export interface LiveBff {
  url: string
  emulator: Emulator
  /** Every caller JWT the BFF was handed for the broker: none of them may reach a browser. */
  callerJwts: string[]
}

export async function liveBff (t: Test, options: { caller?: string; account?: string } = {}): Promise<LiveBff> {
  const emulator = await emulatorFor(t)
  const broker = await build(t, { emulator })
  const brokerUrl = await broker.app.listen({ port: 0, host: '127.0.0.1' })
  const callerJwts: string[] = []
  const client = createBrokerClient({
    baseUrl: brokerUrl,
    credential: async () => {
      const jwt = await emulator.mintCallerToken(options.caller ?? 'portal-bff')
      broker.logs.secret(jwt)
      callerJwts.push(jwt)
      return jwt
    }
  })
  const bff = await buildBff({
    broker: client,
    videos: SAMPLE_VIDEOS,
    ...(options.account === undefined ? {} : { account: options.account })
  })
  t.teardown(() => bff.close())
  const url = await bff.listen({ port: 0, host: '127.0.0.1' })
  return { url, emulator, callerJwts }
}
