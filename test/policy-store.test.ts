import { mkdir, rename, symlink, unlink, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { pino } from 'pino'
import t, { type Test } from 'tap'
import { createPolicy } from '../src/policy.js'
import { createPolicyStore, type ReloadResult } from '../src/policy-store.js'
import { LogCapture } from './support/log-capture.js'
import { until } from './support/until.js'

const allowVideo = (caller: string) => JSON.stringify({ callers: { [caller]: { allow: [{ scope: 'video' }] } } })

function setup (t: Test, file: string, initialCaller = 'first-bff') {
  const logs = new LogCapture()
  const results: ReloadResult[] = []
  const store = createPolicyStore({
    file,
    initial: createPolicy(JSON.parse(allowVideo(initialCaller))),
    logger: pino(logs),
    onReload: (result) => results.push(result)
  })
  t.teardown(() => store.close())
  return { store, logs, results }
}

t.test(
  'reload applies a valid policy, skips an unchanged one, and rejects an invalid one keeping the old',
  async (t) => {
    const dir = t.testdir({ 'policy.json': allowVideo('second-bff') })
    const file = join(dir, 'policy.json')
    const { store, logs, results } = setup(t, file)
    t.ok(store.current().isAllowed('first-bff', 'video', 'x'))
    t.equal(await store.reload('test'), 'applied')
    t.ok(store.current().isAllowed('second-bff', 'video', 'x'))
    t.notOk(store.current().isAllowed('first-bff', 'video', 'x'))
    t.equal(await store.reload('test'), 'unchanged')
    await writeFile(file, JSON.stringify({ callers: { bad: { allow: [{ scope: 'galaxy' }] } } }))
    t.equal(await store.reload('test'), 'rejected')
    t.ok(store.current().isAllowed('second-bff', 'video', 'x'), 'the previous policy stays in force')
    await unlink(file)
    t.equal(await store.reload('test'), 'rejected', 'a missing file is rejected too')
    t.same(results, ['applied', 'unchanged', 'rejected', 'rejected'])
    t.match(
      logs.records.find((r) => r.msg?.toString().includes('rejected')),
      { level: 50, problem: /\/callers\/bad\/allow\/0\/scope/ }
    )
  }
)

t.test('a rejected file is never quoted in the log: the path and the reason only', async (t) => {
  const dir = t.testdir({ 'policy.json': 'AZURE_CLIENT_SECRET=hunter2-d0n0tl0g\n' })
  const file = join(dir, 'policy.json')
  const { store, logs } = setup(t, file)
  t.equal(await store.reload('SIGHUP'), 'rejected')
  const line = logs.raw.find((l) => l.includes('rejected')) as string
  t.match(JSON.parse(line), { level: 50, reason: 'SIGHUP', file, problem: /is not valid JSON$/ })
  t.notMatch(line, /hunter2|AZURE_CLIENT_SECRET/, 'no part of the file is logged')
})

t.test('watching reloads when the file is replaced', async (t) => {
  const dir = t.testdir({ 'policy.json': allowVideo('first-bff') })
  const file = join(dir, 'policy.json')
  const { store } = setup(t, file)
  store.watch()
  await writeFile(join(dir, 'policy.json.tmp'), allowVideo('edited-bff'))
  await rename(join(dir, 'policy.json.tmp'), file)
  await until(() => store.current().isAllowed('edited-bff', 'video', 'x'))
  t.ok(store.current().isAllowed('edited-bff', 'video', 'x'))
})

t.test('watching follows a Kubernetes ConfigMap update (an atomic ..data symlink swap)', async (t) => {
  // The layout kubelet writes: policy.json -> ..data/policy.json, ..data -> ..<timestamp>/
  const dir = t.testdir({})
  await mkdir(join(dir, '..2026_11_27_01'))
  await writeFile(join(dir, '..2026_11_27_01', 'policy.json'), allowVideo('first-bff'))
  await symlink('..2026_11_27_01', join(dir, '..data'))
  await symlink('..data/policy.json', join(dir, 'policy.json'))
  const { store } = setup(t, join(dir, 'policy.json'))
  store.watch()
  await mkdir(join(dir, '..2026_11_27_02'))
  await writeFile(join(dir, '..2026_11_27_02', 'policy.json'), allowVideo('configmap-bff'))
  await symlink('..2026_11_27_02', join(dir, '..data_tmp'))
  await rename(join(dir, '..data_tmp'), join(dir, '..data'))
  await until(() => store.current().isAllowed('configmap-bff', 'video', 'x'))
  t.ok(store.current().isAllowed('configmap-bff', 'video', 'x'))
})
