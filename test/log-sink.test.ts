import { spawn } from 'node:child_process'
import { closeSync, openSync, readFileSync } from 'node:fs'
import { join } from 'node:path'
import t, { type Test } from 'tap'
import { createLogSink } from '../src/log-sink.js'

t.test('the lines of one turn are written together, in order, once the turn ends', async (t) => {
  const file = join(t.testdir({}), 'log')
  const sink = createLogSink(openSync(file, 'a'))
  t.teardown(() => sink.close())
  sink.write('one\n')
  sink.write('two\n')
  const committed = sink.committed()
  sink.write('three\n')
  t.equal(readFileSync(file, 'utf8'), '', 'nothing is written inside the turn')
  await committed
  t.equal(readFileSync(file, 'utf8'), 'one\ntwo\nthree\n', 'a promise taken mid-turn covers the whole group')
  sink.write('four\n')
  await sink.committed()
  t.equal(readFileSync(file, 'utf8'), 'one\ntwo\nthree\nfour\n')
})

t.test('committed() with nothing queued settles at once', async (t) => {
  const sink = createLogSink(openSync('/dev/null', 'a'))
  t.teardown(() => sink.close())
  await t.resolves(sink.committed())
})

t.test('flushSync writes the queued lines now', async (t) => {
  const file = join(t.testdir({}), 'log')
  const fd = openSync(file, 'a')
  const sink = createLogSink(fd)
  sink.write('at exit\n')
  sink.flushSync()
  t.equal(readFileSync(file, 'utf8'), 'at exit\n')
  sink.close()
  t.throws(() => closeSync(fd), { code: 'EBADF' }, 'close() closed the descriptor')
})

t.test('a failed write rejects the group that waits for it, and only that group', async (t) => {
  const sink = createLogSink(openSync('/dev/full', 'a'))
  t.teardown(() => sink.close())
  sink.write('lost\n')
  await t.rejects(sink.committed(), { code: 'ENOSPC' })
  // Lines nobody waits for fail quietly: an unhandled rejection would fail this test file.
  sink.write('nobody waits for this\n')
  await new Promise((resolve) => setImmediate(resolve))
})

/** A pipe whose reader starts reading after delayMs: writes to a full pipe get EAGAIN until then. */
function slowPipe (t: Test, delayMs: number) {
  const reader = spawn('sh', ['-c', `sleep ${delayMs / 1000}; cat >/dev/null`], {
    stdio: ['pipe', 'ignore', 'inherit']
  })
  t.teardown(() => void reader.kill())
  return (reader.stdin as unknown as { _handle: { fd: number } })._handle.fd
}

t.test('a full non-blocking pipe is waited for until its reader drains it', async (t) => {
  const sink = createLogSink(slowPipe(t, 200))
  // More than a pipe holds (64 KiB on Linux), so the write meets EAGAIN before the reader starts.
  const line = 'x'.repeat(1023) + '\n'
  for (let i = 0; i < 256; i++) sink.write(line)
  const started = Date.now()
  await t.resolves(sink.committed())
  t.ok(Date.now() - started >= 150, 'it waited for the reader')
})

t.test('a pipe that stays full fails the write after a bounded wait', async (t) => {
  const sink = createLogSink(slowPipe(t, 10_000))
  const line = 'x'.repeat(1023) + '\n'
  for (let i = 0; i < 256; i++) sink.write(line)
  await t.rejects(sink.committed(), { code: 'EAGAIN' })
})
