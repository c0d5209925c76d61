import { ArmError } from './arm-errors.js'

export interface EmulatorAccount {
  subscriptionId: string
  resourceGroup: string
  accountName: string
  accountId: string
  location: string
}

export const DEFAULT_ACCOUNT: Readonly<EmulatorAccount> = {
  subscriptionId: 'b04775c3-63fa-40f3-9430-139d2e5522d3',
  resourceGroup: 'contosto-azurevideoindexer-rg',
  accountName: 'contosto-azurevideoindexer',
  accountId: '6a2d8d1e-3e1c-4d8a-9f6b-1c2d3e4f5a6b',
  location: 'eastus'
}

const GUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i
const same = (a: string, b: string) => a.toLowerCase() === b.toLowerCase()

export interface AccountDirectory {
  /** Throws ArmError 400 for a malformed id and 404 SubscriptionNotFound for an unknown one. */
  requireSubscription(subscriptionId: string): void
  /** Throws ArmError 404 ResourceGroupNotFound or ResourceNotFound; names match case-insensitively, as in ARM. */
  requireAccount(subscriptionId: string, resourceGroup: string, accountName: string): EmulatorAccount
  /** The account with this Video Indexer account id. */
  byId(accountId: string): EmulatorAccount | undefined
}

export function createAccountDirectory (accounts: readonly EmulatorAccount[]): AccountDirectory {
  return {
    requireSubscription (subscriptionId) {
      if (!GUID.test(subscriptionId)) {
        throw new ArmError(
          400,
          'InvalidSubscriptionId',
          `The provided subscription identifier '${subscriptionId}' is malformed or invalid.`
        )
      }
      if (!accounts.some((account) => same(account.subscriptionId, subscriptionId))) {
        throw new ArmError(404, 'SubscriptionNotFound', `The subscription '${subscriptionId}' could not be found.`)
      }
    },
    requireAccount (subscriptionId, resourceGroup, accountName) {
      const inGroup = accounts.filter(
        (account) => same(account.subscriptionId, subscriptionId) && same(account.resourceGroup, resourceGroup)
      )
      if (inGroup.length === 0) {
        throw new ArmError(404, 'ResourceGroupNotFound', `Resource group '${resourceGroup}' could not be found.`)
      }
      const account = inGroup.find((candidate) => same(candidate.accountName, accountName))
      if (!account) {
        throw new ArmError(
          404,
          'ResourceNotFound',
          `The Resource 'Microsoft.VideoIndexer/accounts/${accountName}' under resource group '${resourceGroup}' was not found. For more details please go to https://aka.ms/ARMResourceNotFoundFix`
        )
      }
      return account
    },
    byId: (accountId) => accounts.find((account) => same(account.accountId, accountId))
  }
}

/**
 * The Accounts_Get body, with ARM's canonical casing (https://learn.microsoft.com/rest/api/videoindexer/accounts/get;
 * ../shared/arm-spec/2025-01-01/examples/ViAccountGet.json: `location` as ARM writes it, e.g. "NorthEurope").
 */
export function accountResource (account: EmulatorAccount, tenantId: string) {
  return {
    id:
      `/subscriptions/${account.subscriptionId}/resourceGroups/${account.resourceGroup}` +
      `/providers/Microsoft.VideoIndexer/accounts/${account.accountName}`,
    name: account.accountName,
    type: 'Microsoft.VideoIndexer/accounts',
    location: account.location,
    tags: {},
    properties: {
      tenantId,
      accountId: account.accountId,
      accountName: account.accountName,
      provisioningState: 'Succeeded'
    }
  }
}
