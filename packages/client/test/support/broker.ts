// A real broker on a loopback port, wired to the bundled emulator, for the client's tests.
import type { Test } from 'tap'
import { build, emulatorFor } from '../../../../test/helper.js'
import type { Emulator, EmulatorOptions } from '../../../../src/emulator/emulator.js'

export interface LiveBroker {
  url: string
  emulator: Emulator
  /** A caller JWT from the emulator's tenant, remembered as a secret for the log check. */
  callerJwt(caller: string): Promise<string>
  /** Marks a string (an access token the client got) as one that must not reach a log line. */
  secret(value: string): void
}

export async function liveBroker (
  t: Test,
  env: Record<string, string | undefined> = {},
  options: { emulator?: EmulatorOptions; policy?: unknown } = {}
): Promise<LiveBroker> {
  const emulator = await emulatorFor(t, options.emulator)
  const broker = await build(t, { emulator, env, ...(options.policy === undefined ? {} : { policy: options.policy }) })
  const url = await broker.app.listen({ port: 0, host: '127.0.0.1' })
  return {
    url,
    emulator,
    async callerJwt (caller) {
      const token = await emulator.mintCallerToken(caller)
      broker.logs.secret(token)
      return token
    },
    secret: (value) => broker.logs.secret(value)
  }
}

/** The platform's fetch, counting the requests it sends (method, path and query). */
export function countingFetch (): { fetch: typeof fetch; requests: string[] } {
  const requests: string[] = []
  return {
    requests,
    fetch: async (input, init) => {
      const url = new URL(String(input))
      requests.push(`${init?.method ?? 'GET'} ${url.pathname}${url.search}`)
      return await fetch(input, init)
    }
  }
}
