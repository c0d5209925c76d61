import { randomUUID } from 'node:crypto'
import type { FastifyError, FastifyInstance, FastifyReply, FastifyRequest } from 'fastify'
import { accountResource } from './accounts.js'
import type { AccountDirectory } from './accounts.js'
import { authenticateArmRequest } from './arm-auth.js'
import { ArmError, toArmError } from './arm-errors.js'
import { parseRestrictedViewerParameters, requireApiVersion } from './arm-parameters.js'
import type { AviTokenMinter } from './avi-tokens.js'
import type { ArmOperation, Counters } from './counters.js'
import type { Faults } from './faults.js'
import type { WriteLimits } from './rate-bucket.js'
import type { TokenAuthority } from './token-authority.js'

export interface ArmRoutesOptions {
  accounts: AccountDirectory
  tokens: TokenAuthority
  aviTokens: AviTokenMinter
  writeLimits: WriteLimits
  counters: Counters
  faults: Faults
}

interface AccountParams {
  subscriptionId: string
  resourceGroupName: string
  accountName: string
}

interface AccountRoute {
  Params: AccountParams
  Querystring: Record<string, unknown>
  Body: string | undefined
}

type AccountRequest = FastifyRequest<AccountRoute>

/** Route config naming the operation, for the counters. */
interface OperationConfig {
  armOperation?: ArmOperation
}

const ACCOUNT_PATH =
  '/:subscriptionId/resourceGroups/:resourceGroupName/providers/Microsoft.VideoIndexer/accounts/:accountName'

function sendArmError (error: FastifyError, _request: FastifyRequest, reply: FastifyReply) {
  const armError = toArmError(error)
  return reply.code(armError.statusCode).headers(armError.headers).send(armError.toBody())
}

/** The emulated ARM routes of Microsoft.VideoIndexer; register with prefix '/subscriptions'. */
export async function armRoutes (app: FastifyInstance, options: ArmRoutesOptions): Promise<void> {
  const { accounts, tokens, aviTokens, writeLimits, counters, faults } = options

  app.removeAllContentTypeParsers()
  app.addContentTypeParser('*', { parseAs: 'string' }, (_request, body, done) => done(null, body))

  app.addHook('onRequest', async (request, reply) => {
    counters.armRequest((request.routeOptions.config as OperationConfig).armOperation)
    const traceparent = request.headers.traceparent
    if (typeof traceparent === 'string') counters.armTraceparent(traceparent.slice(0, 128))
    const correlationId = request.headers['x-ms-correlation-request-id']
    reply.headers({
      'x-ms-request-id': randomUUID(),
      'x-ms-correlation-request-id':
        typeof correlationId === 'string' && correlationId !== '' ? correlationId : randomUUID()
    })
  })
  app.addHook('onRequest', faults.hook('arm'))
  app.addHook('onResponse', async (_request, reply) => counters.armStatus(reply.statusCode))
  app.setErrorHandler(sendArmError)
  app.setNotFoundHandler(async (request) => {
    throw new ArmError(
      404,
      'InvalidResourceType',
      `The resource type could not be found for '${request.method} ${request.url.split('?')[0]}'.`
    )
  })

  /** The checks both operations share, in ARM's order; returns the caller's principal id. */
  async function admit (request: AccountRequest): Promise<string> {
    const principalId = await authenticateArmRequest(request.headers.authorization, tokens)
    requireApiVersion(request.query['api-version'])
    accounts.requireSubscription(request.params.subscriptionId)
    return principalId
  }

  app.get<AccountRoute, OperationConfig>(ACCOUNT_PATH, { config: { armOperation: 'accountsGet' } }, async (request) => {
    await admit(request)
    const { subscriptionId, resourceGroupName, accountName } = request.params
    return accountResource(accounts.requireAccount(subscriptionId, resourceGroupName, accountName), tokens.tenantId)
  })

  app.post<AccountRoute, OperationConfig>(
    `${ACCOUNT_PATH}/generateRestrictedViewerAccessToken`,
    { config: { armOperation: 'generateRestrictedViewerAccessToken' } },
    async (request, reply) => {
      const principalId = await admit(request)
      const { subscriptionId, resourceGroupName, accountName } = request.params
      const bucket = writeLimits.take(subscriptionId, principalId)
      reply.header('x-ms-ratelimit-remaining-subscription-writes', String(bucket.remaining))
      if (!bucket.allowed) {
        throw new ArmError(
          429,
          'SubscriptionRequestsThrottled',
          `Number of 'write' requests for subscription '${subscriptionId}' actor '${principalId}' exceeded. Please try again after '${bucket.retryAfterSeconds}' seconds after additional tokens are available. Refer to https://aka.ms/arm-throttling`,
          { 'retry-after': String(bucket.retryAfterSeconds) }
        )
      }
      const account = accounts.requireAccount(subscriptionId, resourceGroupName, accountName)
      const parameters = parseRestrictedViewerParameters(request.headers['content-type'], request.body)
      return { accessToken: await aviTokens.mint(account, principalId, parameters) }
    }
  )
}
