import type { Logger } from 'pino'
import type { Clock } from './clock.js'
import { brokerError } from './errors.js'
import { faultLog } from './logger.js'
import { accountKey, type Account } from './token-source.js'

/** What the widgets need of an account, from ARM Accounts_Get. */
export interface AccountMetadata {
  /** properties.accountId: the Video Indexer account id in embed URLs. */
  accountId: string
  /** The account's region as the widgets take it: lower case, no spaces ("NorthEurope" → "northeurope"). */
  location: string
}

const ACCOUNT_ID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i
const LOCATION = /^[a-z0-9]{1,64}$/

/**
 * Reads an Accounts_Get body (the ARM spec's Account: a TrackedResource with `location` and
 * `properties.accountId`; see ../shared/arm-spec/2025-01-01/examples/ViAccountGet.json).
 */
export function parseAccountResource (text: string | null | undefined): AccountMetadata {
  let body: { location?: unknown; properties?: { accountId?: unknown } } | undefined
  try {
    body = text ? JSON.parse(text) : undefined
  } catch {}
  const accountId = body?.properties?.accountId
  const location = typeof body?.location === 'string' ? body.location.replace(/\s+/g, '').toLowerCase() : undefined
  const valid = typeof accountId === 'string' && ACCOUNT_ID.test(accountId) && location !== undefined
  if (!valid || !LOCATION.test(location)) {
    throw brokerError('ARM_ERROR', {
      details: [{ code: 'InvalidResponse', message: 'ARM answered Accounts_Get without an account id and location' }]
    })
  }
  return { accountId: accountId.toLowerCase(), location }
}

export interface KnownMetadata extends AccountMetadata {
  /** When it was read (epoch ms). */
  readAt: number
}

export interface AccountMetadataStore {
  /** The account's metadata once a read has succeeded; undefined before. */
  get(account: Account): KnownMetadata | undefined
  /** Starts reading accounts not read yet and stops for accounts no longer served (at start and after a reload). */
  sync(accounts: readonly Account[]): void
  /** Per account: its metadata and age, and how many reads in a row have failed. */
  status(accounts: readonly Account[]): Array<{
    alias: string
    accountName: string
    metadata: (AccountMetadata & { ageSeconds: number }) | null
    failedReads: number
  }>
  close(): void
}

interface State {
  account: Account
  known: KnownMetadata | undefined
  failures: number
  timer: NodeJS.Timeout | undefined
}

/**
 * Reads each account with ARM at start and every `refreshMs`; readiness does not wait. A failed read is
 * retried with jittered exponential backoff (from retryBaseMs, up to refreshMs) and counted.
 */
export function createAccountMetadata (options: {
  read(account: Account): Promise<AccountMetadata>
  clock: Clock
  refreshMs: number
  retryBaseMs?: number
  logger: Logger
  onRead(alias: string, result: 'ok' | 'failed'): void
  random?: () => number
}): AccountMetadataStore {
  const { read, clock, refreshMs, logger, retryBaseMs = 1000, random = Math.random } = options
  const states = new Map<string, State>()
  let closed = false

  function schedule (key: string, state: State, delayMs: number): void {
    state.timer = setTimeout(() => void readNow(key, state), delayMs)
    state.timer.unref()
  }

  async function readNow (key: string, state: State): Promise<void> {
    const { account } = state
    try {
      const metadata = await read(account)
      if (closed || states.get(key) !== state) return
      state.known = { ...metadata, readAt: clock.now() }
      state.failures = 0
      options.onRead(account.alias, 'ok')
      logger.debug({ account: account.alias, location: metadata.location }, 'arm account read')
      schedule(key, state, refreshMs)
    } catch (error) {
      if (closed || states.get(key) !== state) return
      state.failures++
      options.onRead(account.alias, 'failed')
      const delayMs = Math.min(refreshMs, retryBaseMs * 2 ** (state.failures - 1)) * (0.5 + random() / 2)
      const { level, fields } = faultLog(error)
      logger[level](
        { ...fields, account: account.alias, failures: state.failures, retryInMs: Math.round(delayMs) },
        'account metadata read failed; retrying'
      )
      schedule(key, state, delayMs)
    }
  }

  return {
    get: (account) => states.get(accountKey(account))?.known,
    sync (accounts) {
      const keys = new Map(accounts.map((account) => [accountKey(account), account]))
      for (const [key, state] of states) {
        if (keys.has(key)) continue
        clearTimeout(state.timer)
        states.delete(key)
      }
      for (const [key, account] of keys) {
        const state = states.get(key)
        // The same identity under a new alias (or the same one after a reload) keeps what was read.
        if (state) state.account = account
        else {
          const fresh: State = { account, known: undefined, failures: 0, timer: undefined }
          states.set(key, fresh)
          void readNow(key, fresh)
        }
      }
    },
    status (accounts) {
      const now = clock.now()
      return accounts.map((account) => {
        const state = states.get(accountKey(account))
        const known = state?.known
        return {
          alias: account.alias,
          accountName: account.name,
          metadata: known
            ? {
                accountId: known.accountId,
                location: known.location,
                ageSeconds: Math.round((now - known.readAt) / 100) / 10
              }
            : null,
          failedReads: state?.failures ?? 0
        }
      })
    },
    close () {
      closed = true
      for (const state of states.values()) clearTimeout(state.timer)
    }
  }
}
