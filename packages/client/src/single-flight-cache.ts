/**
 * Values kept until their own expiry, with one load in flight per key: concurrent callers share it, and a failed
 * load is dropped, never kept. The oldest entry goes when the cache is full.
 */
export interface SingleFlightCache<V> {
  get(key: string, load: () => Promise<V>): Promise<V>
  /** Keeps a value obtained another way (a batch), unless it is already stale. */
  set(key: string, value: V): void
  clear(): void
}

export function createSingleFlightCache<V> (options: { expiresAt: (value: V) => number; maxEntries: number }) {
  const entries = new Map<string, { promise: Promise<V>; expiresAt: number }>()

  function keep (key: string, entry: { promise: Promise<V>; expiresAt: number }) {
    entries.delete(key)
    if (entries.size >= options.maxEntries) entries.delete(entries.keys().next().value as string)
    entries.set(key, entry)
  }

  const cache: SingleFlightCache<V> = {
    get (key, load) {
      const entry = entries.get(key)
      if (entry && entry.expiresAt > Date.now()) return entry.promise
      // In flight until the load settles: Infinity keeps joiners on the same promise.
      const loading = { promise: load(), expiresAt: Infinity }
      keep(key, loading)
      loading.promise.then(
        (value) => {
          loading.expiresAt = options.expiresAt(value)
        },
        () => {
          if (entries.get(key) === loading) entries.delete(key)
        }
      )
      return loading.promise
    },
    set (key, value) {
      const expiresAt = options.expiresAt(value)
      if (expiresAt > Date.now()) keep(key, { promise: Promise.resolve(value), expiresAt })
    },
    clear () {
      entries.clear()
    }
  }
  return cache
}
