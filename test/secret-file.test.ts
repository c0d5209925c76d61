import { chmod, mkdir, rename, symlink, unlink, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { pino } from 'pino'
import t, { type Test } from 'tap'
import { ConfigError } from '../src/config.js'
import { parseTextSecret } from '../src/config/secrets.js'
import { createSecretFile, type SecretReloadResult } from '../src/secret-file.js'
import { LogCapture } from './support/log-capture.js'
import { until } from './support/until.js'

const FIRST = 'first-secret-value-of-at-least-32-characters'
const SECOND = 'second-secret-value-of-at-least-32-characters'

function open (t: Test, path: string) {
  const logs = new LogCapture()
  const results: SecretReloadResult[] = []
  const secret = createSecretFile({
    variable: 'AUDIT_HMAC_KEY_FILE',
    path,
    parse: parseTextSecret,
    logger: pino(logs),
    describe: (value) => ({ length: value.length }),
    onReload: (result) => results.push(result)
  })
  t.teardown(() => secret.close())
  for (const value of [FIRST, SECOND]) logs.secret(value)
  t.teardown(() => {
    if (logs.leaks().length > 0) throw new Error('a secret appeared in a log line')
  })
  return { secret, logs, results }
}

/** The layout the kubelet and the Key Vault CSI driver write: name -> ..data/name, ..data -> ..<version>/ */
async function atomicDir (dir: string, version: string, content: string, first = false) {
  await mkdir(join(dir, version))
  await writeFile(join(dir, version, 'key'), content)
  await symlink(version, join(dir, first ? '..data' : '..data_tmp'))
  if (first) await symlink('..data/key', join(dir, 'key'))
  else await rename(join(dir, '..data_tmp'), join(dir, '..data'))
}

t.test('reads the secret at boot, trimmed of the newline a file usually ends with', async (t) => {
  const dir = t.testdir({ key: `${FIRST}\n` })
  const { secret } = open(t, join(dir, 'key'))
  t.equal(secret.current(), FIRST)
})

t.test('a missing or invalid file at boot is a ConfigError naming variable and path, not content', async (t) => {
  const dir = t.testdir({ short: 'short-secret\n' })
  t.throws(() => open(t, join(dir, 'missing')), {
    constructor: ConfigError,
    message: /AUDIT_HMAC_KEY_FILE: cannot use .*missing: ENOENT/
  })
  let message = ''
  try {
    open(t, join(dir, 'short'))
  } catch (error) {
    message = (error as Error).message
  }
  t.match(message, /AUDIT_HMAC_KEY_FILE: cannot use .*short: must hold at least 32 characters/)
  t.notMatch(message, /short-secret/)
})

t.test('follows an atomic ..data symlink swap, as the Key Vault CSI driver rotates a secret', async (t) => {
  const dir = t.testdir({})
  await atomicDir(dir, '..v1', FIRST, true)
  const { secret, logs, results } = open(t, join(dir, 'key'))
  await atomicDir(dir, '..v2', SECOND)
  await until(() => secret.current() === SECOND)
  t.equal(secret.current(), SECOND)
  t.ok(results.includes('applied'))
  t.match(
    logs.records.find((r) => r.msg === 'secret reloaded from its file'),
    { variable: 'AUDIT_HMAC_KEY_FILE', path: join(dir, 'key'), length: SECOND.length }
  )
})

t.test('follows a file replaced in place by rename', async (t) => {
  const dir = t.testdir({ key: FIRST })
  const { secret } = open(t, join(dir, 'key'))
  await writeFile(join(dir, 'key.tmp'), SECOND)
  await rename(join(dir, 'key.tmp'), join(dir, 'key'))
  await until(() => secret.current() === SECOND)
  t.equal(secret.current(), SECOND)
})

t.test('an unchanged file is not applied again', async (t) => {
  const dir = t.testdir({ key: FIRST })
  const { secret, results } = open(t, join(dir, 'key'))
  t.equal(await secret.reload(), 'unchanged')
  t.same(results, ['unchanged'])
})

t.test('a file that becomes invalid or unreadable keeps the old secret, logged with path and reason', async (t) => {
  const dir = t.testdir({ key: FIRST })
  const path = join(dir, 'key')
  const { secret, logs, results } = open(t, path)
  await writeFile(path, 'short\n')
  t.equal(await secret.reload(), 'rejected')
  t.equal(secret.current(), FIRST, 'an invalid file leaves the old secret in force')
  await unlink(path)
  t.equal(await secret.reload(), 'rejected')
  t.equal(secret.current(), FIRST, 'so does a missing one')
  if (process.getuid?.() !== 0) {
    await writeFile(path, SECOND)
    await chmod(path, 0)
    t.equal(await secret.reload(), 'rejected', 'and an unreadable one')
  }
  t.ok(results.filter((result) => result === 'rejected').length >= 2, 'each rejection is counted')
  // The watcher may reload too; each of its lines is one of these.
  const warnings = logs.records.filter((r) => r.level === 40)
  for (const problem of ['must hold at least 32 characters', 'ENOENT']) {
    t.match(
      warnings.find((r) => r.problem === problem),
      { variable: 'AUDIT_HMAC_KEY_FILE', path, msg: 'secret file unusable; the previous secret stays in force' }
    )
  }
  t.notOk(logs.raw.some((line) => line.includes('short\\n') || line.includes('"short"')), 'never the content')
  await writeFile(path, SECOND)
  t.equal(await secret.reload(), 'applied', 'a good file later is applied')
  t.equal(secret.current(), SECOND)
})
