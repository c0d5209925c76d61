import type { Emulator } from './emulator.js'

/**
 * The environment that points a broker process at this emulator: its ARM (trusted through the CA file),
 * its managed-identity endpoint, its first account and its widget host; with `callers`, its Microsoft Entra tenant
 * too, in
 * Entra mode with the settings docs/deploy-azure.md gives for accepting both token versions (the broker
 * app's client id and application ID URI as audiences). Used by `npm run dev`, the soak and the tests that
 * start broker processes.
 */
export function brokerEnvironment (
  emulator: Emulator,
  options: { caFile: string; callers?: boolean }
): Record<string, string> {
  const account = emulator.accounts[0]
  if (account === undefined) throw new Error('the emulator has no account')
  return {
    NODE_EXTRA_CA_CERTS: options.caFile,
    ARM_ENDPOINT: emulator.armEndpoint,
    IDENTITY_ENDPOINT: emulator.identityEndpoint,
    IDENTITY_HEADER: emulator.identityHeader,
    AVI_SUBSCRIPTION_ID: account.subscriptionId,
    AVI_RESOURCE_GROUP: account.resourceGroup,
    AVI_ACCOUNT_NAME: account.accountName,
    VI_WEB_BASE_URL: emulator.webBaseUrl,
    ...(options.callers
      ? {
          AUTH_ENTRA_TENANT_ID: emulator.tenantId,
          AUTH_ENTRA_AUTHORITY_HOST: emulator.authorityHost,
          AUTH_ENTRA_AUDIENCE: `${emulator.brokerClientId},${emulator.brokerApplicationIdUri}`
        }
      : {})
  }
}
