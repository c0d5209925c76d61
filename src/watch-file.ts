import { watch } from 'node:fs'
import { basename, dirname } from 'node:path'

const DEBOUNCE_MS = 100

/**
 * Calls onChange, debounced, when the file changes. The directory is watched, not the file: ConfigMaps,
 * Secrets and the Key Vault CSI driver swap a ..data symlink atomically, and editors replace files.
 * Returns a function that stops watching.
 */
export function watchFile (file: string, onChange: () => void, debounceMs = DEBOUNCE_MS): () => void {
  let timer: NodeJS.Timeout | undefined
  const watcher = watch(dirname(file), { persistent: false }, (_event, name) => {
    if (name !== null && name !== basename(file) && !name.startsWith('..')) return
    clearTimeout(timer)
    timer = setTimeout(onChange, debounceMs)
  })
  return () => {
    clearTimeout(timer)
    watcher.close()
  }
}
