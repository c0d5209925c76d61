import { writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { pino } from 'pino'
import t from 'tap'
import { accountsFromText, createAccounts, loadAccountsFile, readAccountsFile } from '../src/accounts.js'
import { createFileStore } from '../src/file-store.js'
import { LogCapture } from './support/log-capture.js'

const SUB = 'b04775c3-63fa-40f3-9430-139d2e5522d3'
const entry = (accountName: string) => ({ subscriptionId: SUB, resourceGroup: 'media-eu', accountName })

t.test('a valid file: accounts by alias and the default one', async (t) => {
  const accounts = createAccounts({
    default: 'eu-prod',
    accounts: { 'eu-prod': entry('contoso-vi-eu'), 'us-prod': entry('contoso-vi-us') }
  })
  t.equal(accounts.default.alias, 'eu-prod')
  t.same(accounts.get('us-prod'), {
    alias: 'us-prod',
    subscriptionId: SUB,
    resourceGroup: 'media-eu',
    name: 'contoso-vi-us'
  })
  t.equal(accounts.get('ap-prod'), undefined)
  t.equal(accounts.all.length, 2)
})

t.test('each bad entry is named by its JSON pointer, against the ARM spec limits', async (t) => {
  const cases: Array<[unknown, RegExp]> = [
    [[], /\/: must be object/],
    [{ default: 'a', accounts: { a: { ...entry('x'), accountName: 'ab' } } }, /\/accounts\/a\/accountName/],
    [{ default: 'a', accounts: { a: { ...entry('contoso'), resourceGroup: 'bad group' } } }, /\/accounts\/a\/resourceGroup/],
    [{ default: 'a', accounts: { a: { ...entry('contoso'), subscriptionId: 'nope' } } }, /\/accounts\/a\/subscriptionId/],
    [{ default: 'a', accounts: { Bad_Alias: entry('contoso') } }, /\/accounts\/Bad_Alias: an alias must match/],
    [{ default: 'b', accounts: { a: entry('contoso') } }, /\/default: names no alias/],
    [{ default: 'a', accounts: { a: entry('contoso'), b: entry('CONTOSO') } }, /\/accounts\/b: the same account as \/accounts\/a/],
    [{ default: 'a', accounts: { a: { ...entry('contoso'), extra: 1 } } }, /\/accounts\/a/]
  ]
  for (const [document, message] of cases) t.throws(() => createAccounts(document), { name: 'AccountsError', message })
})

t.test('file errors name the file, never its content', async (t) => {
  const dir = t.testdir({ 'secret.json': 'AZURE_CLIENT_SECRET=hunter2-d0n0tl0g', 'bad.json': '{"default": 1}' })
  t.throws(() => accountsFromText('AZURE_CLIENT_SECRET=hunter2-d0n0tl0g', 'secret.json'), { message: /secret.json is not valid JSON$/ })
  await t.rejects(loadAccountsFile(join(dir, 'missing.json')), { message: /cannot be read/ })
  await t.rejects(loadAccountsFile(join(dir, 'bad.json')), { message: /bad.json: invalid accounts:\n/ })
  t.equal(await readAccountsFile(join(dir, 'bad.json')), '{"default": 1}')
})

t.test('reloaded like the policy: a bad new file is rejected, the old one kept, never quoted', async (t) => {
  const dir = t.testdir({})
  const file = join(dir, 'accounts.json')
  const one = { default: 'a', accounts: { a: entry('contoso-a') } }
  await writeFile(file, JSON.stringify(one))
  const logs = new LogCapture()
  const applied: string[] = []
  const store = createFileStore({
    what: 'accounts',
    file,
    initial: createAccounts(one),
    read: readAccountsFile,
    parse: accountsFromText,
    describe: (accounts) => ({ accounts: accounts.all.length }),
    logger: pino(logs),
    onApplied: (accounts) => applied.push(accounts.default.alias)
  })
  t.teardown(() => store.close())
  await writeFile(file, JSON.stringify({ default: 'b', accounts: { a: entry('contoso-a'), b: entry('contoso-b') } }))
  t.equal(await store.reload('test'), 'applied')
  t.equal(store.current().default.alias, 'b')
  await writeFile(file, 'AZURE_CLIENT_SECRET=hunter2-d0n0tl0g')
  t.equal(await store.reload('test'), 'rejected')
  t.equal(store.current().default.alias, 'b', 'the previous accounts stay in force')
  t.same(applied, ['b'])
  t.ok(logs.records.some((r) => r.msg === 'new accounts rejected; the previous accounts stays in force'))
  t.notMatch(JSON.stringify(logs.records), /hunter2/)
})
