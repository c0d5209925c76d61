import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox'
import type { FastifyInstance, FastifyRequest } from 'fastify'
import { Type } from 'typebox'
import { callerOf } from '../caller.js'
import { brokerError } from '../errors.js'
import { DENIED, type Policy } from '../policy.js'
import { BEARER_SECURITY, errorResponse, UNAUTHENTICATED_RESPONSE } from '../schemas.js'
import { ID_PATTERN, MAX_CALLER_ID_LENGTH, SCOPES } from '../scope.js'
import type { Accounts } from '../accounts.js'
import type { statusReport } from '../status.js'

export interface OperationsRoutesOptions {
  accounts: () => Accounts
  policy: () => Policy
  status: () => ReturnType<typeof statusReport>
}

const Seconds = Type.Number({ description: 'Seconds, to a tenth' })
const Time = Type.String({ format: 'date-time' })

const StatusResponse = Type.Object(
  {
    version: Type.String(),
    startedAt: Time,
    uptimeSeconds: Seconds,
    identities: Type.Array(
      Type.Object({
        id: Type.String({ description: "The identity's client id, or default for the one identity" }),
        armToken: Type.Union([Type.Object({ ageSeconds: Seconds, expiresOn: Time }), Type.Null()], {
          description: "The identity's ARM token: its age and expiry (never the token); null before the first mint"
        }),
        lastArmAnswer: Type.Union([Type.Object({ status: Type.Integer(), at: Time }), Type.Null()], {
          description: "ARM's latest HTTP status to this identity (0: no answer)"
        }),
        remainingWrites: Type.Union([Type.Integer(), Type.Null()], {
          description: 'x-ms-ratelimit-remaining-subscription-writes from its latest ARM answer'
        }),
        throttleHoldSeconds: Type.Number({ description: 'How long its minting is still held after a 429 (0: none)' })
      })
    ),
    armCallsInFlight: Type.Integer(),
    redis: Type.Object({
      configured: Type.Boolean(),
      circuit: Type.Union([Type.Enum(['closed', 'open']), Type.Null()])
    }),
    policy: Type.Object({
      hash: Type.String({ description: 'SHA-256 of the policy in force' }),
      loadedAt: Time,
      callers: Type.Integer()
    }),
    jwks: Type.Union(
      [
        Type.Object({
          ageSeconds: Type.Union([Seconds, Type.Null()]),
          keyIds: Type.Array(Type.Union([Type.String(), Type.Null()]))
        }),
        Type.Null()
      ],
      { description: 'The caller-token key set (JWKS mode): its age and key ids; null in HS256 mode' }
    ),
    accounts: Type.Array(
      Type.Object({
        alias: Type.String(),
        accountName: Type.String(),
        metadata: Type.Union(
          [Type.Object({ accountId: Type.String(), location: Type.String(), ageSeconds: Seconds }), Type.Null()],
          { description: "The account's id and location from Accounts_Get, and their age; null before the first read" }
        ),
        failedReads: Type.Integer({ description: 'Accounts_Get reads that failed in a row (retried with backoff)' })
      }),
      { description: 'Each account served, by alias' }
    ),
    cache: Type.Object({
      entries: Type.Integer(),
      served: Type.Integer({ description: 'Tokens served since start' }),
      hitRatio: Type.Union([Type.Number(), Type.Null()], { description: 'Share served from the cache since start' })
    })
  },
  { description: "The broker's state; never a secret or a token" }
)

const ExplainQuery = Type.Object(
  {
    caller: Type.String({ minLength: 1, maxLength: MAX_CALLER_ID_LENGTH, description: 'The caller id to check' }),
    scope: Type.Enum([...SCOPES]),
    id: Type.Optional(Type.String({ pattern: ID_PATTERN, description: 'The project or video id' })),
    account: Type.Optional(
      Type.String({
        minLength: 1,
        maxLength: 64,
        description: 'An account alias (or ARM name); default: the default account'
      })
    ),
    roles: Type.Optional(
      Type.String({
        pattern: '^[^,]{1,120}(,[^,]{1,120}){0,49}$',
        description: 'App roles the caller carries, comma-separated'
      })
    )
  },
  { additionalProperties: false }
)

const ExplainResponse = Type.Object(
  {
    decision: Type.Enum(['allow', 'deny']),
    reason: Type.String({
      description:
        'For allow, the JSON pointer of the rule that allows it; for deny, unknown_caller, scope_not_granted, ' +
        'id_not_listed or account_not_granted'
    })
  },
  { description: 'What the policy in force decides for such a request; nothing is minted' }
)

const ADMIN_ONLY = errorResponse(['ADMIN_REQUIRED'], 'The caller is not marked admin in the policy')

/** What operators ask the broker: its state, and why the policy allows or denies a request. Admin callers only. */
export default async function operationsRoutes (parent: FastifyInstance, options: OperationsRoutesOptions) {
  const app = parent.withTypeProvider<TypeBoxTypeProvider>()
  const { accounts, policy } = options
  const requireAdmin = (request: FastifyRequest) => {
    if (!policy().isAdmin(callerOf(request))) throw brokerError('ADMIN_REQUIRED')
  }

  app.get(
    '/status',
    {
      config: { action: 'status' },
      schema: {
        tags: ['operations'],
        summary: "The broker's state",
        description:
          'Version and uptime; the ARM token, budget and throttle hold of each identity; the Redis circuit; ' +
          'the policy in force; the caller key set; the cache. Never a secret or a token.',
        security: BEARER_SECURITY,
        response: { 200: StatusResponse, 401: UNAUTHENTICATED_RESPONSE, 403: ADMIN_ONLY }
      }
    },
    async (request) => {
      requireAdmin(request)
      return options.status()
    }
  )

  app.get(
    '/policy/explain',
    {
      config: { action: 'explain' },
      schema: {
        tags: ['operations'],
        summary: 'Explain a policy decision',
        description:
          'The decision the policy in force makes for a token request of this caller, scope, id and account, ' +
          'and its reason, without minting anything: check a policy change before a user meets it.',
        security: BEARER_SECURITY,
        querystring: ExplainQuery,
        response: {
          200: ExplainResponse,
          400: errorResponse(['INVALID_QUERY', 'MISSING_ID', 'UNEXPECTED_ID'], 'The query does not describe a request'),
          401: UNAUTHENTICATED_RESPONSE,
          403: ADMIN_ONLY
        }
      }
    },
    async (request) => {
      requireAdmin(request)
      const { caller, scope, id } = request.query
      // The same shapes the token routes accept: an id for project and video, none for account.
      if (scope === 'account' && id !== undefined) throw brokerError('UNEXPECTED_ID')
      if (scope !== 'account' && id === undefined) throw brokerError('MISSING_ID', { args: [scope] })
      const served = accounts()
      const named = request.query.account?.toLowerCase()
      const account =
        named === undefined
          ? served.default
          : served.get(named) ?? served.all.find((candidate) => candidate.name.toLowerCase() === named)
      // An account the broker does not serve is granted to nobody.
      if (account === undefined) return DENIED.account_not_granted
      const ref = { alias: account.alias, isDefault: account.alias === served.default.alias }
      /* c8 ignore next: the explain tests name no roles */
      return policy().explain(caller, scope, id, request.query.roles?.split(',') ?? [], ref)
    }
  )
}
