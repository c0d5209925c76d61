import type { Test } from 'tap'

/** The message of the error fn throws, asserting its class; fails the test if fn returns. */
export function thrownMessage (t: Test, fn: () => unknown, type: abstract new (...args: never[]) => Error): string {
  try {
    fn()
  } catch (error) {
    t.type(error, type, `throws a ${type.name}`)
    return (error as Error).message
  }
  t.fail(`expected a ${type.name}`)
  return ''
}
