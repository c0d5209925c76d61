// The sample BFF (examples/bff) on a loopback port, calling a real broker through the client.
import type { Test } from 'tap'
import { createBrokerClient } from '@vi-token-broker/client'
import { buildBff, SAMPLE_VIDEOS } from '../../examples/bff/src/app.js'
import type { LiveBroker } from '../../packages/client/test/support/broker.js'

export interface LiveBff {
  url: string
  /** Every caller JWT the BFF was handed for the broker: none of them may reach a browser. */
  callerJwts: string[]
}

/** A BFF on the broker (one broker and emulator per test file: MSAL keeps the identity endpoint per process). */
export async function liveBff (
  t: Test,
  broker: LiveBroker,
  options: { caller?: string; account?: string } = {}
): Promise<LiveBff> {
  const callerJwts: string[] = []
  const client = createBrokerClient({
    baseUrl: broker.url,
    credential: async () => {
      const jwt = await broker.callerJwt(options.caller ?? 'portal-bff')
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
  return { url, callerJwts }
}
