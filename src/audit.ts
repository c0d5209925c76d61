import { createHmac } from 'node:crypto'
import { openSync } from 'node:fs'
import { pino, type DestinationStream } from 'pino'
import { createLogSink } from './log-sink.js'
import type { CacheOutcome } from './token-cache.js'

export type Decision = 'allow' | 'deny' | 'error'

/** One record per request to a token route, whatever its outcome. */
export interface AuditRecord {
  reqId: string
  /** issue: a token request; evict: an operator dropping cached tokens. */
  action: 'issue' | 'evict'
  caller: string | null
  scope: string | null
  resourceId: string | null
  account: string
  decision: Decision
  status: number
  code: string | null
  /** Why the request was refused, for operators (e.g. the 401 reason); null when it was not. */
  reason: string | null
  cache: CacheOutcome | null
  tokenFingerprint: string | null
  tokenExpiresOn: string | null
  armRequestId: string | null
  durationMs: number
  clientIp: string
  userAgent: string | null
}

export interface Auditor {
  /** First 16 hex characters of HMAC-SHA256(token): lets operators match a token without storing it. */
  fingerprint(accessToken: string): string
  /**
   * Writes the record; settles once it is written, and rejects when it could not be, so the caller
   * can fail closed.
   */
  write(record: AuditRecord): Promise<void>
  /** Flushes and closes the audit file, if there is one. */
  close(): void
}

/** A log destination that can say when its lines are written (see LogSink); others are taken as written at once. */
export type AuditDestination = DestinationStream & { committed?(): Promise<void> }

export function decisionFor (status: number): Decision {
  if (status < 300) return 'allow'
  if (status === 401 || status === 403 || status === 429) return 'deny'
  return 'error'
}

/**
 * Audit records go to the main log (and to AUDIT_LOG_FILE when set) through loggers of their own:
 * at info whatever LOG_LEVEL says, and without the main logger's redaction, since a record is typed
 * and holds no secret.
 */
export function createAuditor (options: {
  stream: AuditDestination
  hmacKey: string
  file?: string | undefined
}): Auditor {
  const { stream } = options
  const mainLog = pino({ level: 'info' }, stream).child({ audit: true })
  const fileSink = options.file === undefined ? undefined : createLogSink(openSync(options.file, 'a'))
  const fileLog = fileSink && pino({ base: { audit: true } }, fileSink)
  return {
    fingerprint (accessToken) {
      // From the first 8 bytes, so the string is flat: slice() of the full hex would keep all 64 characters alive.
      return createHmac('sha256', options.hmacKey).update(accessToken).digest().toString('hex', 0, 8)
    },
    write (record) {
      fileLog?.info(record, 'token request')
      mainLog.info(record, 'token request')
      return Promise.all([stream.committed?.(), fileSink?.committed()]).then(() => undefined)
    },
    close () {
      fileSink?.close()
    }
  }
}
