import { closeSync, writeSync } from 'node:fs'

/**
 * Log lines for one file descriptor, written in groups: the lines of one event-loop turn go out in a
 * single write, in the turn's check phase. An audit record can wait for its group (committed()), so
 * no token leaves before its record is written, without paying one system call per request.
 */
export interface LogSink {
  /** pino's destination interface: queues one line. */
  write(line: string): void
  /** Settles when every line queued so far has been written; rejects if that write failed. */
  committed(): Promise<void>
  /** Writes what is queued now, synchronously (at exit). */
  flushSync(): void
  /** Flushes, then closes the descriptor (for descriptors the sink opened itself). */
  close(): void
}

/** A pipe that is full (EAGAIN) is retried for this long before the write counts as failed. */
const FULL_PIPE_PATIENCE_MS = 1_000
const FULL_PIPE_WAIT_MS = 5
const sleeper = new Int32Array(new SharedArrayBuffer(4))

export function createLogSink (fd: number): LogSink {
  let queued: string[] = []
  let group: { promise: Promise<void>; resolve(): void; reject(error: unknown): void } | undefined

  function flush (): void {
    const lines = queued
    const current = group
    queued = []
    group = undefined
    if (current === undefined) return
    try {
      writeFully(fd, Buffer.from(lines.join('')))
      current.resolve()
    } catch (error) {
      current.reject(error)
    }
  }

  return {
    write (line) {
      queued.push(line)
      if (group === undefined) {
        let resolve!: () => void
        let reject!: (error: unknown) => void
        const promise = new Promise<void>((_resolve, _reject) => {
          resolve = _resolve
          reject = _reject
        })
        // Lines nobody waits for (ordinary log lines) must not turn a failed write into an unhandled rejection.
        promise.catch(() => {})
        group = { promise, resolve, reject }
        setImmediate(flush)
      }
    },
    committed () {
      return group?.promise ?? Promise.resolve()
    },
    flushSync: flush,
    close () {
      flush()
      closeSync(fd)
    }
  }
}

function writeFully (fd: number, data: Buffer): void {
  let offset = 0
  const giveUpAt = performance.now() + FULL_PIPE_PATIENCE_MS
  while (offset < data.length) {
    try {
      offset += writeSync(fd, data, offset)
    } catch (error) {
      // stdout may be a non-blocking pipe; a full one drains as the reader catches up.
      if ((error as NodeJS.ErrnoException).code !== 'EAGAIN' || performance.now() > giveUpAt) throw error
      Atomics.wait(sleeper, 0, 0, FULL_PIPE_WAIT_MS)
    }
  }
}
