// The ports `npm run dev` listens on, each with the variable that moves it, and a check that they are free.
import { once } from 'node:events'
import { createServer } from 'node:net'

export interface DevPort {
  /** What listens there, for the message. */
  use: string
  variable: 'PORT' | 'EMULATOR_PORT' | 'EMULATOR_ARM_PORT' | 'BFF_PORT'
  port: number
}

export function devPorts (env: Record<string, string | undefined>): DevPort[] {
  return [
    { use: 'the broker', variable: 'PORT', port: Number(env.PORT ?? 8080) },
    {
      use: "the emulator's identity endpoint, caller JWKS and admin API",
      variable: 'EMULATOR_PORT',
      port: Number(env.EMULATOR_PORT ?? 8081)
    },
    { use: "the emulator's ARM (HTTPS)", variable: 'EMULATOR_ARM_PORT', port: Number(env.EMULATOR_ARM_PORT ?? 8443) },
    { use: 'the sample BFF page (examples/bff)', variable: 'BFF_PORT', port: Number(env.BFF_PORT ?? 8082) }
  ]
}

/** The first of the ports that cannot be listened on at host (0, any free port, always can). */
export async function takenPort (ports: DevPort[], host: string): Promise<DevPort | undefined> {
  for (const candidate of ports) {
    if (candidate.port === 0) continue
    const server = createServer()
    server.listen(candidate.port, host)
    const [event] = await Promise.race([once(server, 'listening').then(() => ['ok']), once(server, 'error')])
    if (event === 'ok') await new Promise((resolve) => server.close(resolve))
    else return candidate
  }
  return undefined
}

export function describePorts (ports: DevPort[]): string {
  return ports.map(({ use, variable, port }) => `  ${port === 0 ? 'any free' : port}  ${use} (${variable})`).join('\n')
}

export function portTakenMessage ({ use, variable, port }: DevPort): string {
  return `npm run dev cannot start: port ${port}, for ${use}, is in use.\n` +
    `Stop what listens there, or choose another port: ${variable}=<port> npm run dev\n`
}
