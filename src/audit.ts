import { createHmac } from 'node:crypto'
import { openSync, writeSync } from 'node:fs'
import { pino, type Logger } from 'pino'
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
  /** Writes the record; throws when the audit file cannot take it, so the caller can fail closed. */
  write(record: AuditRecord): void
}

export function decisionFor(status: number): Decision {
  if (status < 300) return 'allow'
  if (status === 401 || status === 403 || status === 429) return 'deny'
  return 'error'
}

export function createAuditor(options: { logger: Logger; hmacKey: string; file?: string | undefined }): Auditor {
  // Audit records are written at info whatever LOG_LEVEL says.
  const audit = options.logger.child({ audit: true }, { level: 'info' })
  const fileLog = options.file === undefined ? undefined : auditFileLogger(options.file)
  return {
    fingerprint(accessToken) {
      return createHmac('sha256', options.hmacKey).update(accessToken).digest('hex').slice(0, 16)
    },
    write(record) {
      fileLog?.info(record, 'token request')
      audit.info(record, 'token request')
    }
  }
}

/** A pino logger whose every line is written synchronously, so a failed write throws to the request. */
function auditFileLogger(file: string): Logger {
  const fd = openSync(file, 'a')
  return pino({ base: { audit: true } }, { write: (line: string) => writeSync(fd, line) })
}
