import {
  ManagedIdentityCredential,
  WorkloadIdentityCredential,
  type AccessToken,
  type TokenCredential
} from '@azure/identity'
import type { PoolIdentity } from './arm.js'
import type { Config, IdentityConfig } from './config.js'
import type { Metrics } from './metrics.js'

/** The broker's own Azure identity: workload identity in AKS, managed identity elsewhere. */
export function createCredential (identity: IdentityConfig): TokenCredential {
  /* c8 ignore start: test/emulator/workload-identity.test.ts builds its own WorkloadIdentityCredential */
  if (identity.kind === 'workload') {
    return new WorkloadIdentityCredential({
      clientId: identity.clientId,
      tenantId: identity.tenantId,
      tokenFilePath: identity.tokenFilePath,
      ...(identity.authorityHost ? { authorityHost: identity.authorityHost } : {})
    })
  }
  /* c8 ignore stop */
  /* c8 ignore next 3: tests pass the credential in; server.ts builds it from the environment */
  return identity.clientId
    ? new ManagedIdentityCredential({ clientId: identity.clientId })
    : new ManagedIdentityCredential()
}

/** The name of the one identity when no pool is configured and it has no client id (system-assigned). */
export const DEFAULT_IDENTITY = 'default'

/**
 * The identities mints are spread over: one credential per client id of AZURE_CLIENT_IDS (managed or
 * workload, as configured), or the broker's one credential.
 */
export function createIdentityPool (
  config: Pick<Config, 'identity' | 'identityPool'>,
  credential: TokenCredential
): PoolIdentity[] {
  if (config.identityPool.length === 0) {
    return [{ id: config.identity.clientId ?? DEFAULT_IDENTITY, credential }]
  }
  return config.identityPool.map((clientId) => ({
    id: clientId,
    credential: createCredential({ ...config.identity, clientId })
  }))
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
  counter: Metrics['identityRefreshes'],
  onToken: (token: AccessToken) => void
): TokenCredential {
  return {
    async getToken (scopes, options) {
      try {
        const token = await credential.getToken(scopes, options)
        counter.inc({ result: 'success' })
        if (token) onToken(token)
        return token
      } catch (error) {
        counter.inc({ result: 'failure' })
        throw error
      }
    }
  }
}
