import { readFile } from 'node:fs/promises'
import { Type, type Static } from 'typebox'
import { Value } from 'typebox/value'
import type { Account } from './token-source.js'

/** An alias in the broker's routes (/accounts/{alias}/...) and in policy rules. */
export const ALIAS_PATTERN = '^[a-z0-9][a-z0-9-]{0,62}$'
const ALIAS = new RegExp(ALIAS_PATTERN)

// The ARM spec's limits (2024-01-01 vi.json AccountNameParameter; common-types v2 ResourceGroupNameParameter).
// The subscription is a GUID, as AVI_SUBSCRIPTION_ID is.
const AccountEntry = Type.Object(
  {
    subscriptionId: Type.String({
      pattern: '^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$'
    }),
    resourceGroup: Type.String({ minLength: 1, maxLength: 90, pattern: '^[-\\w._()]+$' }),
    accountName: Type.String({ minLength: 3, maxLength: 50, pattern: '^[A-Za-z0-9-]+$' })
  },
  { additionalProperties: false }
)

const AccountsSchema = Type.Object(
  {
    default: Type.String({ pattern: ALIAS_PATTERN }),
    accounts: Type.Record(Type.String(), AccountEntry, { minProperties: 1 })
  },
  { additionalProperties: false }
)

type AccountsDocument = Static<typeof AccountsSchema>

/** The accounts the broker serves, by alias; one of them is the default (the /tokens routes). */
export interface Accounts {
  readonly default: Account
  readonly all: readonly Account[]
  /** The account of this alias (aliases are lower case), or undefined. */
  get(alias: string): Account | undefined
}

export class AccountsError extends Error {
  override name = 'AccountsError'
}

/** One account, the AVI_* variables' (alias `default`), when there is no ACCOUNTS_FILE. */
export function singleAccount (account: Account): Accounts {
  return accountsOf([account], account)
}

function accountsOf (list: Account[], defaultAccount: Account): Accounts {
  const byAlias = new Map(list.map((account) => [account.alias, account]))
  return { default: defaultAccount, all: list, get: (alias) => byAlias.get(alias) }
}

/** Validates an accounts document; the AccountsError names each bad entry by its JSON pointer. */
export function createAccounts (document: unknown): Accounts {
  // Something other than an accounts file (perhaps a secret) is refused without naming any of its keys.
  if (document === null || typeof document !== 'object' || Array.isArray(document)) invalid('/: must be object')
  const errors = Value.Errors(AccountsSchema, document)
  if (errors.length > 0) {
    const lines = new Set(errors.map((e) => `${e.instancePath || '/'}: ${e.message}`))
    throw new AccountsError(`invalid accounts:\n  ${[...lines].join('\n  ')}`)
  }
  const valid = document as AccountsDocument
  const list: Account[] = []
  const identities = new Map<string, string>()
  for (const [alias, entry] of Object.entries(valid.accounts)) {
    const path = `/accounts/${alias.replace(/~/g, '~0').replace(/\//g, '~1')}`
    if (!ALIAS.test(alias)) invalid(`${path}: an alias must match ${ALIAS_PATTERN}`)
    const identity = `${entry.subscriptionId}/${entry.resourceGroup}/${entry.accountName}`.toLowerCase()
    const twin = identities.get(identity)
    if (twin !== undefined) invalid(`${path}: the same account as /accounts/${twin}`)
    identities.set(identity, alias)
    list.push(
      Object.freeze({
        alias,
        subscriptionId: entry.subscriptionId,
        resourceGroup: entry.resourceGroup,
        name: entry.accountName
      })
    )
  }
  const defaultAccount = list.find((account) => account.alias === valid.default)
  if (defaultAccount === undefined) invalid('/default: names no alias under /accounts')
  return accountsOf(list, defaultAccount)
}

function invalid (line: string): never {
  throw new AccountsError(`invalid accounts:\n  ${line}`)
}

export async function readAccountsFile (path: string): Promise<string> {
  try {
    return await readFile(path, 'utf8')
  } catch (error) {
    throw new AccountsError(`Accounts file ${path} cannot be read: ${(error as Error).message}`)
  }
}

/** Parses and validates an accounts file's text; errors name the file and the bad entry, never its content. */
export function accountsFromText (text: string, path: string): Accounts {
  let document: unknown
  try {
    document = JSON.parse(text)
  } catch {
    throw new AccountsError(`Accounts file ${path} is not valid JSON`)
  }
  try {
    return createAccounts(document)
  } catch (error) {
    throw new AccountsError(`Accounts file ${path}: ${(error as Error).message}`)
  }
}

export async function loadAccountsFile (path: string): Promise<Accounts> {
  return accountsFromText(await readAccountsFile(path), path)
}
