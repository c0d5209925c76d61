// Reads a broker's log file back: its audit records, by cache outcome and status.
import { existsSync, readFileSync } from 'node:fs'
import { tally } from './common.js'

export interface AuditCounts {
  records: number
  hit: number
  miss: number
  refresh: number
  coalesced: number
  non200: number
  /** Non-200 records by error code (or status, when there is no code). */
  codes: Record<string, number>
}

interface AuditRecord {
  cache: 'hit' | 'miss' | 'refresh' | 'coalesced' | null
  status: number
  code: string | null
}

export function auditCounts (file: string): AuditCounts {
  const counts: AuditCounts = { records: 0, hit: 0, miss: 0, refresh: 0, coalesced: 0, non200: 0, codes: {} }
  if (!existsSync(file)) return counts
  for (const line of readFileSync(file, 'utf8').split('\n')) {
    if (!line.includes('"audit":true')) continue
    const record = JSON.parse(line) as AuditRecord
    counts.records++
    if (record.cache) counts[record.cache]++
    if (record.status !== 200) {
      counts.non200++
      tally(counts.codes, record.code ?? String(record.status))
    }
  }
  return counts
}
