import { ManagedIdentityCredential, WorkloadIdentityCredential, type TokenCredential } from '@azure/identity'
import type { IdentityConfig } from './config.js'

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
