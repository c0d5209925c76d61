// Secrets from _FILE variables, through the whole app: rotated in place (the Key Vault CSI driver's
// atomic ..data swap) without a restart, and an unusable file leaving the old secret in force.
import { randomBytes, randomUUID } from 'node:crypto'
import { mkdir, rename, symlink, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { Redis } from 'ioredis'
import t from 'tap'
import { hmacKeyId } from '../../src/audit.js'
import { build } from '../helper.js'
import { missingRedis, startRedis } from '../support/redis-server.js'
import { callerToken } from '../support/tokens.js'
import { until } from '../support/until.js'

const OLD_HMAC = 'old-audit-hmac-key-0123456789abcdef-0123'
const NEW_HMAC = 'new-audit-hmac-key-0123456789abcdef-4567'

/** A directory laid out as the CSI driver writes it, with one file per secret; swap() rotates them all at once. */
async function secretsDir (dir: string, files: Record<string, string>) {
  let version = 0
  const write = async () => {
    const versionDir = `..v${++version}`
    await mkdir(join(dir, versionDir))
    for (const [name, content] of Object.entries(files)) await writeFile(join(dir, versionDir, name), `${content}\n`)
    await symlink(versionDir, join(dir, '..data_tmp'))
    await rename(join(dir, '..data_tmp'), join(dir, '..data'))
  }
  await write()
  for (const name of Object.keys(files)) await symlink(`..data/${name}`, join(dir, name))
  return {
    path: (name: string) => join(dir, name),
    async swap (next: Record<string, string>) {
      Object.assign(files, next)
      await write()
    }
  }
}

t.test('a new AUDIT_HMAC_KEY_FILE changes the fingerprints and fingerprintKeyId of new records', async (t) => {
  const secrets = await secretsDir(t.testdir({}), { 'audit-hmac-key': OLD_HMAC })
  const { app, logs, request } = await build(t, {
    env: { AUDIT_HMAC_KEY: undefined, AUDIT_HMAC_KEY_FILE: secrets.path('audit-hmac-key') }
  })
  const token = await callerToken('portal-bff')
  const fingerprints = () => logs.audits.map((a) => [a.tokenFingerprint, a.fingerprintKeyId])
  t.equal((await request({ url: '/tokens/video/before', token })).statusCode, 200)
  t.same(fingerprints()[0]?.[1], hmacKeyId(OLD_HMAC), 'the record names the key that made its fingerprint')

  await secrets.swap({ 'audit-hmac-key': NEW_HMAC })
  const reloaded = () => logs.records.some((r) => r.msg === 'secret reloaded from its file')
  await until(reloaded)
  t.ok(reloaded(), 'the swap is picked up')
  t.match(logs.records.find((r) => r.msg === 'secret reloaded from its file'), {
    variable: 'AUDIT_HMAC_KEY_FILE',
    fingerprintKeyId: hmacKeyId(NEW_HMAC)
  })
  t.equal((await request({ url: '/tokens/video/before', token })).statusCode, 200, 'the cached token again')
  t.equal((await request({ url: '/tokens/video/after', token })).statusCode, 200, 'a new token')
  const [before, cachedAfter, mintedAfter] = fingerprints()
  t.equal(cachedAfter?.[1], hmacKeyId(NEW_HMAC))
  t.not(cachedAfter?.[0], before?.[0], 'the same token, fingerprinted under the new key')
  t.equal(mintedAfter?.[1], hmacKeyId(NEW_HMAC))
  const metrics = await (await app.metricsRegistry()).getSingleMetricAsString('vi_broker_secret_reloads_total')
  t.match(metrics, /vi_broker_secret_reloads_total\{variable="AUDIT_HMAC_KEY_FILE",result="applied"\} 1/)
})

t.test('a new AUTH_JWT_SECRET_FILE verifies new caller tokens; an invalid file keeps the old secret', async (t) => {
  const oldSecret = randomBytes(32).toString('hex')
  const newSecret = randomBytes(32).toString('hex')
  const secrets = await secretsDir(t.testdir({}), { 'jwt-secret': oldSecret })
  const { app, logs, request } = await build(t, {
    env: { AUTH_JWT_SECRET: undefined, AUTH_JWT_SECRET_FILE: secrets.path('jwt-secret') }
  })
  for (const secret of [oldSecret, newSecret]) logs.secret(secret)
  // A fresh token each time (jti): a token verified before is remembered until its exp, at most 10 minutes.
  const signedWith = (secret: string) => callerToken('portal-bff', { secret, claims: { jti: randomUUID() } })
  const status = async (secret: string) =>
    (await request({ url: '/tokens/video/abc', token: await signedWith(secret) })).statusCode
  t.equal(await status(oldSecret), 200)
  t.equal(await status(newSecret), 401)

  await secrets.swap({ 'jwt-secret': newSecret })
  const applied = () => logs.records.some((r) => r.msg === 'secret reloaded from its file')
  await until(applied)
  t.ok(applied())
  t.equal(await status(newSecret), 200, 'tokens signed with the new secret pass')
  t.equal(await status(oldSecret), 401, 'tokens newly signed with the old one do not')

  await secrets.swap({ 'jwt-secret': 'too-short' })
  const rejected = () => logs.records.some((r) => r.msg === 'secret file unusable; the previous secret stays in force')
  await until(rejected)
  t.match(logs.records.find((r) => r.level === 40 && r.variable === 'AUTH_JWT_SECRET_FILE'), {
    path: secrets.path('jwt-secret'),
    problem: 'must hold at least 32 characters'
  })
  t.notOk(logs.raw.some((line) => line.includes('too-short')), 'the content is never logged')
  t.equal(await status(newSecret), 200, 'the last good secret stays in force')
  const metrics = await (await app.metricsRegistry()).getSingleMetricAsString('vi_broker_secret_reloads_total')
  t.match(metrics, /variable="AUTH_JWT_SECRET_FILE",result="rejected"\} [1-9]/)
})

t.test('a _FILE that cannot be used at boot stops the app with a ConfigError naming it', async (t) => {
  const dir = t.testdir({ key: 'short\n' })
  await t.rejects(build(t, { env: { AUDIT_HMAC_KEY: undefined, AUDIT_HMAC_KEY_FILE: join(dir, 'missing') } }), {
    name: 'ConfigError',
    message: /AUDIT_HMAC_KEY_FILE: cannot use .*missing: ENOENT/
  })
  await t.rejects(build(t, { env: { AUDIT_HMAC_KEY: undefined, AUDIT_HMAC_KEY_FILE: join(dir, 'key') } }), {
    message: /AUDIT_HMAC_KEY_FILE: cannot use .*key: must hold at least 32 characters/
  })
})

t.test('CACHE_ENCRYPTION_KEY_FILE across two replicas sharing Redis', async (t) => {
  if (missingRedis(t)) return
  const redisServer = await startRedis(t)
  const newKey = `k2:${randomBytes(32).toString('base64')}`
  const secrets = await secretsDir(t.testdir({}), { 'cache-key': `k1:${randomBytes(32).toString('base64')}` })
  const replica = async () => {
    const redis = new Redis(redisServer.url, { enableOfflineQueue: false, maxRetriesPerRequest: 0 })
    redis.on('error', () => {})
    t.teardown(() => redis.disconnect())
    await new Promise((resolve) => redis.once('ready', resolve))
    const built = await build(t, {
      redis,
      env: { REDIS_URL: redisServer.url, CACHE_ENCRYPTION_KEY_FILE: secrets.path('cache-key') }
    })
    return { ...built, redis }
  }
  const [a, b] = [await replica(), await replica()]
  const token = await callerToken('portal-bff')
  const sealedKids = async () =>
    Promise.all(
      (await a.redis.keys('vi-token-broker:token:*')).map(async (key) => (await a.redis.get(key))?.split('.')[1])
    )
  const sharedHits = async (replicaApp: typeof a) =>
    (await (await replicaApp.app.metricsRegistry()).getSingleMetricAsString('vi_broker_shared_cache_results_total'))
      .match(/result="hit"\} (\d+)/)?.[1]

  t.equal((await a.request({ url: '/tokens/video/before', token })).statusCode, 200)
  t.same(await sealedKids(), ['k1'])
  await secrets.swap({ 'cache-key': newKey })
  const reloaded = (r: typeof a) => r.logs.records.some((l) => l.msg === 'secret reloaded from its file')
  await until(() => reloaded(a) && reloaded(b))
  t.ok(reloaded(a) && reloaded(b), 'both replicas read the new key')
  t.match(a.logs.records.find((l) => l.msg === 'secret reloaded from its file'), {
    currentKid: 'k2',
    kids: ['k2', 'k1']
  })

  t.equal((await b.request({ url: '/tokens/video/before', token })).statusCode, 200)
  t.equal(await sharedHits(b), '1', 'a value sealed under the old key still opens on the other replica')
  t.equal((await b.request({ url: '/tokens/video/after', token })).statusCode, 200)
  t.same((await sealedKids()).sort(), ['k1', 'k2'], 'a new value is sealed under the new key')
  t.equal((await a.request({ url: '/tokens/video/after', token })).statusCode, 200)
  t.equal(await sharedHits(a), '1', 'and opens on the replica that sealed none with it')
})
