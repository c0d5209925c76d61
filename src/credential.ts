import { ManagedIdentityCredential, WorkloadIdentityCredential, type TokenCredential } from '@azure/identity'
import type { IdentityConfig } from './config.js'
import type { Metrics } from './metrics.js'

/** The broker's own Azure identity: workload identity in AKS, managed identity elsewhere. */
export function createCredential (identity: IdentityConfig): TokenCredential {
  if (identity.kind === 'workload') {
    return new WorkloadIdentityCredential({
      clientId: identity.clientId,
      tenantId: identity.tenantId,
      tokenFilePath: identity.tokenFilePath,
      ...(identity.authorityHost ? { authorityHost: identity.authorityHost } : {})
    })
  }
  return identity.clientId
    ? new ManagedIdentityCredential({ clientId: identity.clientId })
    : new ManagedIdentityCredential()
}

/**
 * The bearer policy shares one in-flight token refresh between requests; if the identity endpoint
 * hangs, that refresh must still end, or every later request would wait on it forever.
 */
export function boundedCredential (credential: TokenCredential, timeoutMs: number): TokenCredential {
  return {
    getToken (scopes, options) {
      return new Promise((resolve, reject) => {
        const timer = setTimeout(() => {
          const error = new Error(`the identity endpoint did not answer within ${timeoutMs} ms`)
          error.name = 'IdentityTimeoutError'
          reject(error)
        }, timeoutMs)
        credential
          .getToken(scopes, options)
          .then(resolve, reject)
          .finally(() => clearTimeout(timer))
      })
    }
  }
}

export function countedCredential (
  credential: TokenCredential,
  counter: Metrics['identityRefreshes']
): TokenCredential {
  return {
    async getToken (scopes, options) {
      try {
        const token = await credential.getToken(scopes, options)
        counter.inc({ result: 'success' })
        return token
      } catch (error) {
        counter.inc({ result: 'failure' })
        throw error
      }
    }
  }
}
