import type { Logger } from 'pino'
import { systemClock, type Clock } from './clock.js'
import { watchFile } from './watch-file.js'

export type ReloadResult = 'applied' | 'unchanged' | 'rejected'

/** A value read from a file the operator edits (the policy, the accounts), reloaded on change. */
export interface FileStore<T> {
  current(): T
  /** When the value in force was loaded (epoch ms). */
  loadedAt(): number
  /** Re-reads the file. An invalid new value is rejected and the old one stays in force. */
  reload(reason: string): Promise<ReloadResult>
  /** Reloads when the file changes, including Kubernetes ConfigMap updates (an atomic symlink swap). */
  watch(): void
  close(): void
}

export interface FileStoreOptions<T> {
  /** What the file holds, for the log lines: "policy", "accounts". */
  what: string
  file: string
  initial: T
  /** Reads the file; throws an error naming the file, never quoting it. */
  read(file: string): Promise<string>
  /** Parses and validates the text; throws an error naming the bad entry, never quoting the content. */
  parse(text: string, file: string): T
  /** Fields for the "reloaded" log line. */
  describe(value: T): Record<string, unknown>
  logger: Logger
  onReload?: ((result: ReloadResult) => void) | undefined
  /** Called with each value applied by a reload. */
  onApplied?: ((value: T) => void) | undefined
  clock?: Clock | undefined
}

export function createFileStore<T> (options: FileStoreOptions<T>): FileStore<T> {
  const { what, file, logger, clock = systemClock } = options
  let value = options.initial
  let loadedAt = clock.now()
  let lastText: string | undefined
  let unwatch: (() => void) | undefined
  let reloading = Promise.resolve<ReloadResult>('unchanged')

  async function reloadNow (reason: string): Promise<ReloadResult> {
    let result: ReloadResult
    try {
      const text = await options.read(file)
      if (text === lastText) {
        result = 'unchanged'
      } else {
        value = options.parse(text, file)
        loadedAt = clock.now()
        lastText = text
        result = 'applied'
        logger.info({ reason, ...options.describe(value) }, `${what} reloaded`)
        options.onApplied?.(value)
      }
    } catch (error) {
      result = 'rejected'
      // The message names the file and the reason, never the file's content.
      logger.error(
        { reason, file, problem: (error as Error).message },
        `new ${what} rejected; the previous ${what} stays in force`
      )
    }
    options.onReload?.(result)
    return result
  }

  return {
    current: () => value,
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
