// RFC 9110 §10.2.3: delta-seconds, or an IMF-fixdate such as "Tue, 01 Dec 2026 12:00:05 GMT".
const HTTP_DATE = /^[A-Za-z]{3}, \d{2} [A-Za-z]{3} \d{4} \d{2}:\d{2}:\d{2} GMT$/

/** Retry-After in seconds; undefined when absent or unreadable. */
export function parseRetryAfter (value: string | null, now = Date.now()): number | undefined {
  const trimmed = value?.trim() ?? ''
  if (/^\d+$/.test(trimmed)) return Number(trimmed)
  const date = HTTP_DATE.test(trimmed) ? Date.parse(trimmed) : NaN
  return Number.isNaN(date) ? undefined : Math.max(0, Math.ceil((date - now) / 1000))
}
