export interface EmulatorCounters {
  arm: {
    generateRestrictedViewerAccessToken: number
    accountsGet: number
    total: number
    byStatus: Record<string, number>
    /**
     * The W3C traceparent header of the latest ARM requests that sent one (at most 50, oldest first),
     * so a test can follow a trace into ARM (https://www.w3.org/TR/trace-context/#traceparent-header).
     */
    traceparents: string[]
  }
  /** Requests to the managed-identity endpoint and the Entra token endpoint. */
  identity: number
  /** Requests to the caller-token JWKS. */
  jwks: number
}

export type ArmOperation = 'generateRestrictedViewerAccessToken' | 'accountsGet'

export interface Counters {
  armRequest(operation: ArmOperation | undefined): void
  armStatus(status: number): void
  armTraceparent(traceparent: string): void
  identityRequest(): void
  jwksRequest(): void
  snapshot(): EmulatorCounters
  reset(): void
}

const MAX_TRACEPARENTS = 50

function zero (): EmulatorCounters {
  return {
    arm: { generateRestrictedViewerAccessToken: 0, accountsGet: 0, total: 0, byStatus: {}, traceparents: [] },
    identity: 0,
    jwks: 0
  }
}

export function createCounters (): Counters {
  let state = zero()
  return {
    armRequest (operation) {
      state.arm.total += 1
      if (operation) state.arm[operation] += 1
    },
    armStatus (status) {
      const key = String(status)
      state.arm.byStatus[key] = (state.arm.byStatus[key] ?? 0) + 1
    },
    armTraceparent (traceparent) {
      state.arm.traceparents.push(traceparent)
      if (state.arm.traceparents.length > MAX_TRACEPARENTS) state.arm.traceparents.shift()
    },
    identityRequest () {
      state.identity += 1
    },
    jwksRequest () {
      state.jwks += 1
    },
    snapshot () {
      return structuredClone(state)
    },
    reset () {
      state = zero()
    }
  }
}
