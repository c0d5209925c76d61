import type { FastifyRequest } from 'fastify'
import { callerOf } from '../caller.js'
import { brokerError } from '../errors.js'
import type { Policy } from '../policy.js'
import { ARM_SCOPE_NAMES, type Scope } from '../scope.js'
import type { CacheResult, TokenCache } from '../token-cache.js'
import type { Account } from '../token-source.js'

/** The fields a token route answers with (tokenResponse in schemas.ts), and a batch item's besides its status. */
export interface TokenBody {
  accessToken: string
  scope: 'Account' | 'Project' | 'Video'
  videoId?: string
  projectId?: string
  accountName: string
  expiresOn: string
}

export type IssueToken = (
  request: FastifyRequest,
  account: Account,
  scope: Scope,
  id: string | undefined
) => Promise<{ result: CacheResult; body: TokenBody }>

/**
 * One token request, as a single route and each item of a batch make it: the policy decides for the
 * caller of `request`, then the cache (or ARM) answers.
 */
export function tokenIssuer (options: { policy: () => Policy; tokens: TokenCache }): IssueToken {
  const { policy, tokens } = options
  return async (request, account, scope, id) => {
    const caller = callerOf(request)
    /* c8 ignore next: authenticate always sets callerRoles; the fallback guards routes tested without it */
    const roles = request.callerRoles ?? []
    const current = policy()
    const explained = current.explain(caller, scope, id, roles)
    if (explained.decision === 'deny') throw brokerError('POLICY_DENIED', { reason: explained.reason })
    const budget = current.mintBudgetFor(caller, roles)
    const result = await tokens.get({ account, scope, id, mintBudget: budget && { caller, ...budget } })
    const body: TokenBody = {
      accessToken: result.token.accessToken,
      scope: ARM_SCOPE_NAMES[scope],
      ...(scope === 'video' ? { videoId: id as string } : {}),
      ...(scope === 'project' ? { projectId: id as string } : {}),
      accountName: account.name,
      expiresOn: new Date(result.token.expiresAt).toISOString()
    }
    return { result, body }
  }
}
