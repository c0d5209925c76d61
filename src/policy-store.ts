import type { Logger } from 'pino'
import type { Clock } from './clock.js'
import { createFileStore, type FileStore } from './file-store.js'
import { policyFromText, readPolicyFile, type Policy } from './policy.js'

export type { ReloadResult } from './file-store.js'

export type PolicyStore = FileStore<Policy>

export function createPolicyStore (options: {
  file: string
  initial: Policy
  logger: Logger
  onReload?: (result: 'applied' | 'unchanged' | 'rejected') => void
  clock?: Clock
}): PolicyStore {
  return createFileStore({
    what: 'policy',
    read: readPolicyFile,
    parse: policyFromText,
    describe: (policy) => ({ callers: policy.callerCount, roles: policy.roleCount }),
    ...options
  })
}
