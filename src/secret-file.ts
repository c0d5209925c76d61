import { createHash } from 'node:crypto'
import { readFileSync } from 'node:fs'
import { readFile } from 'node:fs/promises'
import type { Logger } from 'pino'
import { invalidConfig } from './config/config-error.js'
import { watchFile } from './watch-file.js'

export type SecretReloadResult = 'applied' | 'unchanged' | 'rejected'

export interface SecretFile<T> {
  /** The secret in force: the last content of the file that read and parsed. */
  current(): T
  /** Re-reads the file now (the watcher calls this when the file changes). */
  reload(): Promise<SecretReloadResult>
  close(): void
}

export interface SecretFileOptions<T> {
  /** The _FILE variable that names the file, for logs and boot errors. */
  variable: string
  path: string
  /** Turns the file's text (trimmed) into the secret, or throws a message that never quotes the text. */
  parse(text: string, previous: T | undefined): T
  logger: Logger
  /** Fields safe to log about a newly applied secret, such as its key id. */
  describe?(secret: T): Record<string, unknown>
  onReload?(result: SecretReloadResult): void
}

/**
 * A secret read from a file, as the Key Vault CSI driver or a Kubernetes Secret volume mounts it, and
 * re-read when the file changes. A file that becomes unreadable or invalid leaves the previous secret
 * in force; the problem is logged with the path and the reason, never the content.
 */
export function createSecretFile<T> (options: SecretFileOptions<T>): SecretFile<T> {
  const { variable, path, logger } = options
  const log = logger.child({ variable, path })
  let text: string
  let secret: T
  try {
    text = readFileSync(path, 'utf8').trim()
    secret = options.parse(text, undefined)
  } catch (error) {
    throw invalidConfig(variable, `cannot use ${path}: ${reasonOf(error)}`)
  }
  let lastHash = hash(text)
  let reloading = Promise.resolve<SecretReloadResult>('unchanged')

  async function reloadNow (): Promise<SecretReloadResult> {
    let result: SecretReloadResult = 'unchanged'
    try {
      const next = (await readFile(path, 'utf8')).trim()
      const nextHash = hash(next)
      if (nextHash !== lastHash) {
        secret = options.parse(next, secret)
        lastHash = nextHash
        result = 'applied'
        log.info(options.describe?.(secret) ?? {}, 'secret reloaded from its file')
      }
    } catch (error) {
      result = 'rejected'
      log.warn({ problem: reasonOf(error) }, 'secret file unusable; the previous secret stays in force')
    }
    options.onReload?.(result)
    return result
  }

  const unwatch = watchFile(path, () => void api.reload())
  const api: SecretFile<T> = {
    current: () => secret,
    reload () {
      reloading = reloading.then(reloadNow)
      return reloading
    },
    close: unwatch
  }
  return api
}

// Only a digest of the content is kept to spot a change; node:fs errors name the path, not the content.
function hash (text: string): string {
  return createHash('sha256').update(text).digest('hex')
}

function reasonOf (error: unknown): string {
  const { code, message } = error as { code?: string; message?: string }
  return code === undefined ? String(message) : code
}
