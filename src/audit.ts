import { createHash, createHmac } from 'node:crypto'
import { openSync } from 'node:fs'
import { pino, type DestinationStream } from 'pino'
import { createLogSink } from './log-sink.js'
import type { CacheOutcome, CachedToken } from './token-cache.js'

export type Decision = 'allow' | 'deny' | 'error'

/** One record per request to a token route, and per item of a batch, whatever its outcome. */
export interface AuditRecord {
  reqId: string
  /** issue: a token request; evict: an operator dropping cached tokens. */
  action: 'issue' | 'evict' | 'status' | 'explain'
  caller: string | null
  scope: string | null
  resourceId: string | null
  /** The account's ARM name; null when the path named an alias no account has. */
  account: string | null
  /** The account's alias (as the path gave it, when no account has it). */
  alias: string | null
  decision: Decision
  status: number
  code: string | null
  /** Why the request was refused, for operators (e.g. the 401 reason); null when it was not. */
  reason: string | null
  cache: CacheOutcome | null
  tokenFingerprint: string | null
  /** Which HMAC key made tokenFingerprint: first 8 hex characters of SHA-256(key), never the key. */
  fingerprintKeyId: string | null
  tokenExpiresOn: string | null
  armRequestId: string | null
  /** The id shared by the records of one POST /tokens/batch, and the item's index in it; null outside a batch. */
  batchId: string | null
  batchItem: number | null
  /** The W3C trace id of the request (its traceparent's, or the broker's own), when tracing is on. */
  traceId: string | null
  durationMs: number
  clientIp: string
  userAgent: string | null
}

export interface Fingerprint {
  value: string
  keyId: string
}

export interface Auditor {
  /** First 16 hex characters of HMAC-SHA256(token): lets operators match a token without storing it. */
  fingerprint(accessToken: string): Fingerprint
  /**
   * The fingerprint kept with a cached token, worked out again (and kept) when the HMAC key has
   * changed since, so every record carries a fingerprint under the key in force.
   */
  fingerprintOf(token: CachedToken): Fingerprint
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

/** The fingerprintKeyId of an HMAC key: first 8 hex characters of its SHA-256, which do not reveal it. */
export function hmacKeyId (key: string): string {
  return createHash('sha256').update(key).digest('hex').slice(0, 8)
}

/**
 * Audit records go to the main log (and to AUDIT_LOG_FILE when set) through loggers of their own:
 * at info whatever LOG_LEVEL says, and without the main logger's redaction, since a record is typed
 * and holds no secret.
 */
export function createAuditor (options: {
  stream: AuditDestination
  /** The key in force; it changes when AUDIT_HMAC_KEY_FILE does. */
  hmacKey: () => string
  file?: string | undefined
}): Auditor {
  const { stream, hmacKey } = options
  let lastKey: string | undefined
  let lastKeyId = ''
  const keyIdOf = (key: string) => {
    if (key !== lastKey) {
      lastKey = key
      lastKeyId = hmacKeyId(key)
    }
    return lastKeyId
  }
  const mainLog = pino({ level: 'info' }, stream).child({ audit: true })
  const fileSink = options.file === undefined ? undefined : createLogSink(openSync(options.file, 'a'))
  const fileLog = fileSink && pino({ base: { audit: true } }, fileSink)
  function fingerprint (accessToken: string): Fingerprint {
    const key = hmacKey()
    // From the first 8 bytes, so the string is flat: slice() of the full hex would keep all 64 characters alive.
    const value = createHmac('sha256', key).update(accessToken).digest().toString('hex', 0, 8)
    return { value, keyId: keyIdOf(key) }
  }
  return {
    fingerprint,
    fingerprintOf (token) {
      if (token.fingerprintKeyId !== keyIdOf(hmacKey())) {
        const { value, keyId } = fingerprint(token.accessToken)
        token.fingerprint = value
        token.fingerprintKeyId = keyId
      }
      return { value: token.fingerprint, keyId: token.fingerprintKeyId }
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
