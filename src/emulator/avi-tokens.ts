import { randomUUID } from 'node:crypto'
import type { EmulatorAccount } from './accounts.js'
import { signJwt } from './signing-key.js'
import type { SigningKey } from './signing-key.js'

export type ViewerScope = 'Video' | 'Account' | 'Project'

export interface RestrictedViewerParameters {
  scope: ViewerScope
  videoId?: string
  projectId?: string
}

export interface AviTokenMinter {
  mint(account: EmulatorAccount, principalId: string, parameters: RestrictedViewerParameters): Promise<string>
}

export interface AviTokenMinterOptions {
  key: SigningKey
  tenantId: string
  lifetimeSeconds: number
  now: () => number
}

const VIDEO_INDEXER = 'https://api.videoindexer.ai/'

/**
 * Mints Video Indexer restricted-viewer tokens. The claims follow the shape of real ARM-issued AVI
 * tokens, so a token is about as long (~1,260 characters) as the one in the official examples.
 */
export function createAviTokenMinter ({ key, tenantId, lifetimeSeconds, now }: AviTokenMinterOptions): AviTokenMinter {
  const keyVersion = randomUUID().replaceAll('-', '')
  return {
    mint (account, principalId, { scope, videoId, projectId }) {
      const iat = Math.floor(now() / 1000)
      return signJwt(key, {
        Version: '2.0.0.0',
        KeyVersion: keyVersion,
        AccountId: account.accountId,
        AccountType: 'Arm',
        TenantId: tenantId,
        ArmResourceGroup: account.resourceGroup,
        ArmAccountName: account.accountName,
        Permission: 'Reader',
        Scope: scope,
        ...(scope === 'Video' ? { VideoId: videoId } : {}),
        ...(scope === 'Project' ? { ProjectId: projectId } : {}),
        ExternalUserId: principalId,
        UserType: 'ServicePrincipal',
        IssuerLocation: account.location,
        TokenId: randomUUID(),
        iat,
        nbf: iat,
        exp: iat + lifetimeSeconds,
        iss: VIDEO_INDEXER,
        aud: VIDEO_INDEXER
      })
    }
  }
}
