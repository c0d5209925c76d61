import type { FastifyError, FastifyInstance } from 'fastify'
import { ArmError, toArmError } from './arm-errors.js'
import type { CallerIssuer, CallerTokenOptions } from './caller-issuer.js'
import type { Counters } from './counters.js'
import { FAULT_TARGETS, InvalidFaultError, parseFault } from './faults.js'
import type { FaultTarget, Faults } from './faults.js'

export interface AdminRoutesOptions {
  counters: Counters
  faults: Faults
  callerIssuer: CallerIssuer
  /** Zeroes counters, clears faults and refills the rate buckets. */
  reset(): void
}

interface CallerTokenBody extends CallerTokenOptions {
  caller: string
}

const targetParams = {
  type: 'object',
  properties: { target: { type: 'string', enum: FAULT_TARGETS } },
  required: ['target']
} as const

function parseCallerTokenBody (body: unknown): CallerTokenBody {
  const { caller, claims, expiresInSeconds, version, roles, tenantId, ...rest } = (
    typeof body === 'object' && body !== null ? body : {}
  ) as Record<string, unknown>
  const invalid = (message: string) => new ArmError(400, 'InvalidRequest', message)
  if (typeof caller !== 'string' || caller === '') throw invalid("'caller' must be a non-empty string")
  if (version !== undefined && version !== 1 && version !== 2) throw invalid("'version' must be 1 or 2")
  if (roles !== undefined && !(Array.isArray(roles) && roles.every((role) => typeof role === 'string' && role))) {
    throw invalid("'roles' must be an array of non-empty strings")
  }
  if (tenantId !== undefined && (typeof tenantId !== 'string' || tenantId === '')) {
    throw invalid("'tenantId' must be a non-empty string")
  }
  if (claims !== undefined && (typeof claims !== 'object' || claims === null || Array.isArray(claims))) {
    throw invalid("'claims' must be an object")
  }
  if (expiresInSeconds !== undefined && !(Number.isInteger(expiresInSeconds) && (expiresInSeconds as number) > 0)) {
    throw invalid("'expiresInSeconds' must be a positive integer")
  }
  const [unknown] = Object.keys(rest)
  if (unknown !== undefined) throw invalid(`unknown property '${unknown}'`)
  return {
    caller,
    claims: claims as Record<string, unknown> | undefined,
    expiresInSeconds: expiresInSeconds as number | undefined,
    version: version as 1 | 2 | undefined,
    roles: roles as string[] | undefined,
    tenantId: tenantId as string | undefined
  }
}

/** The test-control API; register with prefix '/admin'. Errors use the `{ error: { code, message } }` shape. */
export async function adminRoutes (app: FastifyInstance, options: AdminRoutesOptions): Promise<void> {
  const { counters, faults, callerIssuer, reset } = options

  app.setErrorHandler<FastifyError>((error, _request, reply) => {
    const armError =
      error instanceof InvalidFaultError ? new ArmError(400, 'InvalidFault', error.message) : toArmError(error)
    return reply.code(armError.statusCode).send(armError.toBody())
  })

  app.get('/counters', async () => counters.snapshot())

  app.put<{ Params: { target: FaultTarget }; Body: unknown }>(
    '/faults/:target',
    { schema: { params: targetParams } },
    async (request, reply) => {
      faults.set(request.params.target, parseFault(request.body))
      return reply.code(204).send()
    }
  )

  app.delete<{ Params: { target: FaultTarget } }>(
    '/faults/:target',
    { schema: { params: targetParams } },
    async (request, reply) => {
      faults.set(request.params.target, null)
      return reply.code(204).send()
    }
  )

  app.post('/reset', async (_request, reply) => {
    reset()
    return reply.code(204).send()
  })

  app.post('/caller-tokens', async (request) => {
    const { caller, ...tokenOptions } = parseCallerTokenBody(request.body)
    return { token: await callerIssuer.mint(caller, tokenOptions) }
  })
}
