import { createHash, createHmac } from 'node:crypto'
import { pino } from 'pino'
import t from 'tap'
import { createAuditor, decisionFor, hmacKeyId, type AuditRecord } from '../src/audit.js'
import type { CachedToken } from '../src/token-cache.js'
import { LogCapture } from './support/log-capture.js'

const HMAC_KEY = 'audit-hmac-key-for-tests-0123456789abcdef'
const hmacKey = () => HMAC_KEY

const RECORD: AuditRecord = {
  reqId: 'req-1',
  action: 'issue',
  caller: 'portal-bff',
  scope: 'video',
  resourceId: 'abc123',
  account: 'contosto-azurevideoindexer',
  alias: 'default',
  decision: 'allow',
  status: 200,
  code: null,
  reason: null,
  cache: 'hit',
  tokenFingerprint: '0123456789abcdef',
  fingerprintKeyId: '01234567',
  tokenExpiresOn: '2030-01-01T00:00:00.000Z',
  armRequestId: 'arm-req-1',
  durationMs: 12,
  clientIp: '10.0.0.7',
  userAgent: 'test-agent/1.0',
  batchId: null,
  batchItem: null,
  traceId: null
}

/** A real pino logger at this level, writing to a capture stream. */
function capturedLogger (level: string) {
  const logs = new LogCapture()
  return { logger: pino({ level }, logs), logs }
}

t.test('decisionFor', async (t) => {
  const expected: Array<[number, string]> = [
    [200, 'allow'],
    [201, 'allow'],
    [204, 'allow'],
    [299, 'allow'],
    [300, 'error'],
    [400, 'error'],
    [401, 'deny'],
    [403, 'deny'],
    [404, 'error'],
    [429, 'deny'],
    [500, 'error'],
    [502, 'error'],
    [503, 'error'],
    [504, 'error']
  ]
  for (const [status, decision] of expected) t.equal(decisionFor(status), decision, `${status} → ${decision}`)
})

t.test('fingerprint', async (t) => {
  const logs = new LogCapture()
  const auditor = createAuditor({ stream: logs, hmacKey })
  const token = 'eyJhbGciOiJIUzI1NiJ9.eyJleHAiOjE5MDAwMDAwMDB9.signature-part'
  const fingerprint = (accessToken: string) => auditor.fingerprint(accessToken).value

  t.test('is the first 16 hex characters of HMAC-SHA256 under the key', async (t) => {
    const expected = createHmac('sha256', HMAC_KEY).update(token).digest('hex').slice(0, 16)
    t.equal(fingerprint(token), expected)
    t.match(fingerprint(token), /^[0-9a-f]{16}$/)
  })
  t.test("names its key by the first 8 hex characters of the key's SHA-256", async (t) => {
    const expected = createHash('sha256').update(HMAC_KEY).digest('hex').slice(0, 8)
    t.equal(auditor.fingerprint(token).keyId, expected)
    t.equal(hmacKeyId(HMAC_KEY), expected)
  })
  t.test('is stable for one token and differs between tokens', async (t) => {
    t.equal(fingerprint(token), fingerprint(token))
    t.not(fingerprint(token), fingerprint(token + 'x'))
  })
  t.test('depends on the key', async (t) => {
    const other = createAuditor({ stream: logs, hmacKey: () => 'another-audit-hmac-key-0123456789abcdef' })
    t.not(other.fingerprint(token).value, fingerprint(token))
    t.not(other.fingerprint(token).keyId, auditor.fingerprint(token).keyId)
  })
  t.test('follows a key change, and works a cached token out again under the new key', async (t) => {
    let key = HMAC_KEY
    const rotating = createAuditor({ stream: logs, hmacKey: () => key })
    const before = rotating.fingerprint(token)
    const cached = {
      accessToken: token,
      fingerprint: before.value,
      fingerprintKeyId: before.keyId
    } as CachedToken
    t.same(rotating.fingerprintOf(cached), before, 'unchanged while the key is')
    key = 'a-rotated-audit-hmac-key-0123456789abcdef'
    const after = rotating.fingerprintOf(cached)
    t.same(after, rotating.fingerprint(token))
    t.not(after.value, before.value)
    t.equal(after.keyId, hmacKeyId(key))
    t.equal(cached.fingerprint, after.value, 'kept with the token, so it is worked out once per key')
  })
  t.test('is not a plain hash of the token', async (t) => {
    const plain = createHmac('sha256', '').update(token).digest('hex').slice(0, 16)
    t.not(fingerprint(token), plain)
  })
})

t.test('write', async (t) => {
  t.test('writes one info record with audit: true and every field', async (t) => {
    const { logs } = capturedLogger('info')
    createAuditor({ stream: logs, hmacKey }).write(RECORD)
    t.equal(logs.records.length, 1)
    t.match(logs.records[0], { ...RECORD, level: 30, audit: true, msg: 'token request' })
    t.equal(logs.audits.length, 1)
  })

  t.test('keeps null fields', async (t) => {
    const { logs } = capturedLogger('info')
    const denied: AuditRecord = {
      ...RECORD,
      caller: null,
      scope: null,
      resourceId: null,
      decision: 'deny',
      status: 401,
      code: 'AUTH_REQUIRED',
      cache: null,
      tokenFingerprint: null,
      fingerprintKeyId: null,
      tokenExpiresOn: null,
      armRequestId: null,
      userAgent: null
    }
    createAuditor({ stream: logs, hmacKey }).write(denied)
    t.match(logs.audits[0], { ...denied, audit: true })
  })

  // The auditor has loggers of its own: audit records are kept however quiet LOG_LEVEL is.
  for (const level of ['warn', 'error', 'fatal', 'silent']) {
    t.test(`is written at info when the logger level is ${level}`, async (t) => {
      const { logger, logs } = capturedLogger(level)
      const auditor = createAuditor({ stream: logs, hmacKey })
      logger.info('ordinary info line')
      auditor.write(RECORD)
      t.equal(logs.records.length, 1, 'only the audit record reaches the stream')
      t.match(logs.records[0], { level: 30, audit: true, reqId: 'req-1' })
      t.equal(logger.level, level, 'the main logger keeps its level')
    })
  }

  t.test('is written once, at info, when the logger is more verbose', async (t) => {
    const { logs } = capturedLogger('trace')
    createAuditor({ stream: logs, hmacKey }).write(RECORD)
    t.equal(logs.audits.length, 1)
    t.equal(logs.audits[0]!.level, 30)
  })

  t.test('other lines on the same stream are not marked audit', async (t) => {
    const { logger, logs } = capturedLogger('info')
    createAuditor({ stream: logs, hmacKey })
    logger.info({ reqId: 'x' }, 'not an audit line')
    t.equal(logs.records.length, 1)
    t.equal(logs.audits.length, 0)
  })

  t.test('a fingerprinted record never carries the token', async (t) => {
    const { logs } = capturedLogger('info')
    const auditor = createAuditor({ stream: logs, hmacKey })
    const token = 'secret-access-token-value-0123456789'
    logs.secret(token)
    auditor.write({ ...RECORD, tokenFingerprint: auditor.fingerprint(token).value })
    t.same(logs.leaks(), [])
    t.equal(logs.audits[0]!.tokenFingerprint, auditor.fingerprint(token).value)
  })
})
