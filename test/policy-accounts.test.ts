import t from 'tap'
import { createPolicy } from '../src/policy.js'

const us = { alias: 'us-prod', isDefault: false }
const eu = { alias: 'eu-prod', isDefault: true }

t.test('a rule names an alias, "*", or (without account) the default account only', async (t) => {
  const policy = createPolicy({
    callers: {
      'us-bff': { allow: [{ scope: 'video', account: 'us-prod' }] },
      'portal-bff': { allow: [{ scope: 'video' }, { scope: 'project', ids: ['p1'], account: 'us-prod' }] },
      'ops-bff': { allow: [{ scope: 'video', account: '*' }, { scope: 'account', account: 'eu-prod' }] }
    },
    roles: { 'Tokens.Us': { allow: [{ scope: 'video', ids: ['v1'], account: 'us-prod' }] } }
  })
  t.match(policy.explain('us-bff', 'video', 'v1', [], us), { decision: 'allow', reason: '/callers/us-bff/allow/0' })
  t.match(policy.explain('us-bff', 'video', 'v1', [], eu), { decision: 'deny', reason: 'account_not_granted' })
  t.match(policy.explain('us-bff', 'video', 'v1'), { reason: 'account_not_granted' }, 'default: the default account')
  t.ok(policy.isAllowed('portal-bff', 'video', 'v1', [], eu))
  t.notOk(policy.isAllowed('portal-bff', 'video', 'v1', [], us))
  t.match(policy.explain('portal-bff', 'project', 'p2', [], us), { reason: 'id_not_listed' })
  t.ok(policy.isAllowed('ops-bff', 'video', 'v1', [], us))
  t.ok(policy.isAllowed('ops-bff', 'account', undefined, [], eu))
  t.match(policy.explain('ops-bff', 'account', undefined, [], us), { reason: 'account_not_granted' })
  t.match(policy.explain('ops-bff', 'project', 'p1', [], us), { reason: 'scope_not_granted' })
  t.match(policy.explain('role-only', 'video', 'v1', ['Tokens.Us'], us), { reason: '/roles/Tokens.Us/allow/0' })
  t.match(policy.explain('role-only', 'video', 'v1', ['Tokens.Us'], eu), { reason: 'account_not_granted' })
})

t.test('"*" never grants Account scope, and an account must be an alias', async (t) => {
  t.throws(() => createPolicy({ callers: { x: { allow: [{ scope: 'account', account: '*' }] } } }), {
    message: /\/callers\/x\/allow\/0\/account: account scope is granted per alias/
  })
  t.throws(() => createPolicy({ callers: { x: { allow: [{ scope: 'video', account: 'Not An Alias' }] } } }), {
    message: /\/callers\/x\/allow\/0\/account/
  })
})
