import { pino } from 'pino'
import t from 'tap'
import { ConfigError } from '../src/config.js'
import { brokerError } from '../src/errors.js'
import type { LogSink } from '../src/log-sink.js'
import { loggerOptions } from '../src/logger.js'
import { prettySink } from '../src/pretty-log.js'

/** A LogSink that keeps what it is given. */
function memorySink () {
  const lines: string[] = []
  let flushed = 0
  const sink: LogSink = {
    write: (line) => void lines.push(line),
    committed: async () => {},
    flushSync: () => void flushed++,
    close: () => {}
  }
  return { sink, lines, flushes: () => flushed }
}

t.test('LOG_FORMAT=pretty: readable lines, expected faults without a stack, errors with one', async (t) => {
  const { sink, lines, flushes } = memorySink()
  const logger = pino(loggerOptions('info'), await prettySink(sink, { colorize: false }))
  logger.info({ callers: 3, account: 'contosto' }, 'vi-token-broker ready')
  const fault = new Error('connect ECONNREFUSED 127.0.0.1:8443')
  logger.warn({ attempt: 0, code: 'ARM_UNAVAILABLE', err: fault }, 'arm call failed')
  logger.error({ err: brokerError('AUDIT_UNAVAILABLE') }, 'audit record could not be written; response withheld')

  t.equal(lines.length, 3, 'each record is one write to the sink')
  const [ready, warning, error] = lines as [string, string, string]
  t.match(ready, /^\[\d{2}:\d{2}:\d{2}\.\d{3}\] INFO: vi-token-broker ready \{"callers":3,"account":"contosto"\}\n$/)
  t.notMatch(ready, /"level"|"time"|"pid"|"hostname"/, 'no JSON envelope, no epoch time')
  t.match(warning, /^\[[\d:.]+\] WARN: arm call failed \{"attempt":0,"code":"ARM_UNAVAILABLE"\}\n/)
  t.match(warning, /err: Error: connect ECONNREFUSED 127\.0\.0\.1:8443/)
  t.notMatch(warning, /\n\s+at /, 'an expected upstream fault prints no stack trace')
  t.match(error, /ERROR: audit record could not be written/)
  t.match(error, /\n\s+at /, 'an error keeps its stack')
  await sink.committed()
  ;(await prettySink(sink)).flushSync()
  t.equal(flushes(), 1, 'flushSync reaches the sink, as at exit')
})

t.test('a broker installed without dev dependencies refuses LOG_FORMAT=pretty, naming the variable', async (t) => {
  const { sink } = memorySink()
  const missing = () => Promise.reject(Object.assign(new Error("Cannot find package 'pino-pretty'"), {
    code: 'ERR_MODULE_NOT_FOUND'
  }))
  await t.rejects(prettySink(sink, { load: missing }), {
    constructor: ConfigError,
    message: /LOG_FORMAT: pretty needs pino-pretty, a development dependency/
  })
})
