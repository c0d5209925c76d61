import type { Logger } from 'pino'
import { systemClock, type Clock } from './clock.js'
import { policyFromText, readPolicyFile, type Policy } from './policy.js'
import { watchFile } from './watch-file.js'

export type ReloadResult = 'applied' | 'unchanged' | 'rejected'

export interface PolicyStore {
  current(): Policy
  /** When the policy in force was loaded (epoch ms). */
  loadedAt(): number
  /** Re-reads the file. An invalid new policy is rejected and the old one stays in force. */
  reload(reason: string): Promise<ReloadResult>
  /** Reloads when the file changes, including Kubernetes ConfigMap updates (an atomic symlink swap). */
  watch(): void
  close(): void
}

export function createPolicyStore (options: {
  file: string
  initial: Policy
  logger: Logger
  onReload?: (result: ReloadResult) => void
  clock?: Clock
}): PolicyStore {
  const { file, logger, clock = systemClock } = options
  let policy = options.initial
  let loadedAt = clock.now()
  let lastText: string | undefined
  let unwatch: (() => void) | undefined
  let reloading = Promise.resolve<ReloadResult>('unchanged')

  async function reloadNow (reason: string): Promise<ReloadResult> {
    let result: ReloadResult
    try {
      const text = await readPolicyFile(file)
      if (text === lastText) {
        result = 'unchanged'
      } else {
        policy = policyFromText(text, file)
        loadedAt = clock.now()
        lastText = text
        result = 'applied'
        logger.info({ reason, callers: policy.callerCount, roles: policy.roleCount }, 'policy reloaded')
      }
    } catch (error) {
      result = 'rejected'
      // The message names the file and the reason, never the file's content (see policyFromText).
      logger.error(
        { reason, file, problem: (error as Error).message },
        'new policy rejected; the previous policy stays in force'
      )
    }
    options.onReload?.(result)
    return result
  }

  return {
    current: () => policy,
    loadedAt: () => loadedAt,
    reload (reason) {
      // One reload at a time, in order.
      reloading = reloading.then(() => reloadNow(reason))
      return reloading
    },
    watch () {
      unwatch = watchFile(file, () => void this.reload('file changed'))
    },
    close () {
      unwatch?.()
    }
  }
}
