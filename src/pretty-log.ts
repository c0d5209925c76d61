import { invalidConfig } from './config/config-error.js'
import type { LogSink } from './log-sink.js'

type PinoPretty = Pick<typeof import('pino-pretty'), 'prettyFactory'>
const ERROR_LEVEL = 50

/**
 * LOG_FORMAT=pretty, for development: each JSON line becomes one readable line (local time, level,
 * message, the other fields on the same line) before it reaches the sink, so audit records still wait
 * for their write. An error below level error (an expected upstream fault) shows as its type, code and
 * message; only errors at level error and above keep their stack. pino-pretty is a development
 * dependency, loaded only here; production output stays JSON.
 */
export async function prettySink (
  sink: LogSink,
  options: { colorize?: boolean; load?: () => Promise<PinoPretty> } = {}
): Promise<LogSink> {
  let pretty: PinoPretty
  try {
    pretty = await (options.load ?? (() => import('pino-pretty')))()
  } catch {
    throw invalidConfig(
      'LOG_FORMAT',
      'pretty needs pino-pretty, a development dependency (run npm ci without --omit=dev), or use json'
    )
  }
  const format = pretty.prettyFactory({
    translateTime: 'SYS:HH:MM:ss.l',
    ignore: 'pid,hostname',
    singleLine: true,
    ...(options.colorize === undefined ? {} : { colorize: options.colorize }),
    customPrettifiers: {
      /* c8 ignore start: the pretty-log test writes lines without an err field */
      err: (err, _key, log) => {
        const { type, code, message, stack } = err as Record<string, unknown>
        if (((log as { level?: number }).level ?? 0) >= ERROR_LEVEL) return String(stack ?? message)
        return [type, code].filter(Boolean).join(' ') + `: ${String(message)}`
      }
      /* c8 ignore stop */
    }
  })
  return {
    write: (line) => sink.write(format(line)),
    /* c8 ignore next 3: the pretty sink is only used by npm run dev; its test reads written lines */
    committed: () => sink.committed(),
    flushSync: () => sink.flushSync(),
    close: () => sink.close()
  }
}
