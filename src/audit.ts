import { createHmac } from 'node:crypto'
import type { Logger } from 'pino'
import type { CacheOutcome } from './token-cache.js'

export type Decision = 'allow' | 'deny' | 'error'

/** One record per request to a token route, whatever its outcome. */
export interface AuditRecord {
  reqId: string
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
  write(record: AuditRecord): void
}

export function decisionFor(status: number): Decision {
  if (status < 300) return 'allow'
  if (status === 401 || status === 403 || status === 429) return 'deny'
  return 'error'
}

export function createAuditor(options: { logger: Logger; hmacKey: string }): Auditor {
  // Audit records are written at info whatever LOG_LEVEL says.
  const audit = options.logger.child({ audit: true }, { level: 'info' })
  return {
    fingerprint(accessToken) {
      return createHmac('sha256', options.hmacKey).update(accessToken).digest('hex').slice(0, 16)
    },
    write(record) {
      audit.info(record, 'token request')
    }
  }
}
