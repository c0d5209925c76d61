import { join } from 'node:path'
import t, { type Test } from 'tap'
import { createPolicy, DEFAULT_RATE_LIMIT, loadPolicyFile, PolicyError } from '../src/policy.js'
import { thrownMessage } from './support/thrown.js'

const POLICY = {
  callers: {
    'portal-bff': { allow: [{ scope: 'video' }, { scope: 'project', ids: ['07ec9e38d4', 'Proj_B-2'] }] },
    'admin-bff': { allow: [{ scope: 'account' }] },
    'idle-app': { allow: [] }
  }
}

/** The PolicyError message createPolicy throws for this document (fails the test if it is accepted). */
function rejection (t: Test, document: unknown): string {
  return thrownMessage(t, () => createPolicy(document), PolicyError)
}

/** Writes a policy file in a fresh test directory and returns its path. */
function policyFile (t: Test, content: unknown): string {
  const dir = t.testdir({ 'policy.json': typeof content === 'string' ? content : JSON.stringify(content) })
  return join(dir, 'policy.json')
}

t.test('deny by default', async (t) => {
  const policy = createPolicy(POLICY)
  t.equal(policy.callerCount, 3, 'counts every caller, including one with no rules')
  t.notOk(policy.isAllowed('unknown-app', 'video', 'abc'), 'an unknown caller gets nothing')
  t.notOk(policy.isAllowed('unknown-app', 'account', undefined))
  t.notOk(policy.isAllowed('idle-app', 'video', 'abc'), 'a caller with an empty allow list gets nothing')
  t.notOk(policy.isAllowed('admin-bff', 'video', 'abc'), 'a scope the caller was not given is denied')
  t.notOk(policy.isAllowed('admin-bff', 'project', 'abc'))
  t.notOk(createPolicy({ callers: {} }).isAllowed('portal-bff', 'video', 'abc'), 'an empty policy denies everything')
  t.equal(createPolicy({ callers: {} }).callerCount, 0)
})

t.test('caller names are matched exactly', async (t) => {
  const policy = createPolicy(POLICY)
  t.notOk(policy.isAllowed('Portal-BFF', 'video', 'abc'))
  t.notOk(policy.isAllowed('portal-bff ', 'video', 'abc'))
  t.notOk(policy.isAllowed('portal', 'video', 'abc'))
})

t.test('a rule without ids allows any id of its scope', async (t) => {
  const policy = createPolicy(POLICY)
  for (const id of ['abc', '07ec9e38d4', 'ANY_id-1', 'x'.repeat(64)]) {
    t.ok(policy.isAllowed('portal-bff', 'video', id), `video ${id}`)
  }
})

t.test('a rule with ids allows exactly those ids', async (t) => {
  const policy = createPolicy(POLICY)
  t.ok(policy.isAllowed('portal-bff', 'project', '07ec9e38d4'))
  t.ok(policy.isAllowed('portal-bff', 'project', 'Proj_B-2'))
  t.notOk(policy.isAllowed('portal-bff', 'project', '07EC9E38D4'), 'ids are case-sensitive')
  t.notOk(policy.isAllowed('portal-bff', 'project', 'proj_b-2'), 'ids are case-sensitive')
  t.notOk(policy.isAllowed('portal-bff', 'project', '07ec9e38d'), 'a prefix is not a match')
  t.notOk(policy.isAllowed('portal-bff', 'project', '07ec9e38d4x'), 'an extension is not a match')
  t.notOk(policy.isAllowed('portal-bff', 'project', 'other'))
  t.notOk(policy.isAllowed('portal-bff', 'project', undefined), 'no id is not one of the listed ids')
})

t.test('account scope is granted only to callers that name it', async (t) => {
  const policy = createPolicy(POLICY)
  t.ok(policy.isAllowed('admin-bff', 'account', undefined))
  t.notOk(policy.isAllowed('portal-bff', 'account', undefined), 'video and project grants do not imply account')
})

t.test('scope names in the file are case-insensitive', async (t) => {
  const document = {
    callers: {
      app: { allow: [{ scope: 'Video' }, { scope: 'PROJECT', ids: ['p1'] }, { scope: 'aCCount' }] }
    }
  }
  const policy = createPolicy(document)
  t.ok(policy.isAllowed('app', 'video', 'v1'))
  t.ok(policy.isAllowed('app', 'project', 'p1'))
  t.notOk(policy.isAllowed('app', 'project', 'p2'))
  t.ok(policy.isAllowed('app', 'account', undefined))
  t.equal(document.callers.app.allow[0]!.scope, 'Video', 'the caller’s document is not modified')
  t.match(
    rejection(t, { callers: { app: { allow: [{ scope: 'Account', ids: ['x'] }] } } }),
    'account scope takes no ids'
  )
})

t.test('several rules for one scope are merged', async (t) => {
  t.test('id lists are combined', async (t) => {
    const policy = createPolicy({
      callers: {
        app: {
          allow: [
            { scope: 'video', ids: ['a', 'b'] },
            { scope: 'Video', ids: ['b', 'c'] }
          ]
        }
      }
    })
    for (const id of ['a', 'b', 'c']) t.ok(policy.isAllowed('app', 'video', id), `video ${id}`)
    t.notOk(policy.isAllowed('app', 'video', 'd'))
  })
  t.test('a rule without ids wins, whichever comes first', async (t) => {
    const anyLast = createPolicy({ callers: { app: { allow: [{ scope: 'video', ids: ['a'] }, { scope: 'video' }] } } })
    const anyFirst = createPolicy({ callers: { app: { allow: [{ scope: 'video' }, { scope: 'video', ids: ['a'] }] } } })
    t.ok(anyLast.isAllowed('app', 'video', 'zzz'))
    t.ok(anyFirst.isAllowed('app', 'video', 'zzz'))
  })
  t.test('rules of one caller do not leak to another', async (t) => {
    const policy = createPolicy({
      callers: { a: { allow: [{ scope: 'video', ids: ['v1'] }] }, b: { allow: [{ scope: 'video', ids: ['v2'] }] } }
    })
    t.ok(policy.isAllowed('a', 'video', 'v1'))
    t.notOk(policy.isAllowed('a', 'video', 'v2'))
    t.ok(policy.isAllowed('b', 'video', 'v2'))
    t.notOk(policy.isAllowed('b', 'video', 'v1'))
  })
})

t.test('invalid documents give a PolicyError naming the bad entry', async (t) => {
  const cases: Array<[description: string, document: unknown, expected: string]> = [
    ['not an object', null, '/: must be object'],
    ['an array', [], '/: must be object'],
    ['no callers', {}, '/: must have required properties callers'],
    ['callers is an array', { callers: [] }, '/callers: must be object'],
    ['a caller is not an object', { callers: { app: null } }, '/callers/app: must be object'],
    ['allow is not an array', { callers: { app: { allow: {} } } }, '/callers/app/allow: must be array'],
    ['allow is missing', { callers: { app: {} } }, '/callers/app: must have required properties allow'],
    [
      'a rule is not an object',
      { callers: { app: { allow: [{ scope: 'video' }, 'video'] } } },
      '/callers/app/allow/1: must be object'
    ],
    [
      'a rule has no scope',
      { callers: { app: { allow: [{ ids: ['a'] }] } } },
      '/callers/app/allow/0: must have required properties scope'
    ],
    [
      'an unknown scope',
      { callers: { app: { allow: [{ scope: 'channel' }] } } },
      '/callers/app/allow/0/scope: must be equal to one of the allowed values'
    ],
    ['a scope that is not a string', { callers: { app: { allow: [{ scope: 3 }] } } }, '/callers/app/allow/0/scope'],
    [
      'ids is not an array',
      { callers: { app: { allow: [{ scope: 'video', ids: 'a' }] } } },
      '/callers/app/allow/0/ids: must be array'
    ],
    [
      'an empty ids list',
      { callers: { app: { allow: [{ scope: 'video', ids: [] }] } } },
      '/callers/app/allow/0/ids: must not have fewer than 1 items'
    ],
    [
      'an id that is not a string',
      { callers: { app: { allow: [{ scope: 'video', ids: [7] }] } } },
      '/callers/app/allow/0/ids/0: must be string'
    ],
    ['an unknown top-level property', { callers: {}, version: 2 }, '/: must not have additional properties'],
    [
      'an unknown caller property',
      { callers: { app: { allow: [], deny: [] } } },
      '/callers/app: must not have additional properties'
    ],
    [
      'an unknown rule property',
      { callers: { app: { allow: [{ scope: 'video', id: 'a' }] } } },
      '/callers/app/allow/0: must not have additional properties'
    ],
    [
      'ids on an account rule',
      { callers: { app: { allow: [{ scope: 'video' }, { scope: 'account', ids: ['a'] }] } } },
      '/callers/app/allow/1/ids: account scope takes no ids'
    ]
  ]
  for (const [description, document, expected] of cases) {
    const message = rejection(t, document)
    t.match(message, /^invalid policy:\n {2}/, `${description}: message shape`)
    t.match(message, expected, `${description}: names ${expected.split(':')[0]}`)
  }
})

t.test('ids must match the id pattern', async (t) => {
  const bad = ['', 'has space', 'dot.ted', 'slash/id', 'x'.repeat(65), 'é']
  for (const id of bad) {
    const message = rejection(t, { callers: { app: { allow: [{ scope: 'project', ids: ['ok', id] }] } } })
    t.match(message, '/callers/app/allow/0/ids/1: must match pattern', `${JSON.stringify(id)} is rejected`)
  }
  t.ok(createPolicy({ callers: { app: { allow: [{ scope: 'project', ids: ['x'.repeat(64), 'A-z_9'] }] } } }))
})

t.test('several problems are all reported', async (t) => {
  const message = rejection(t, {
    callers: { a: { allow: [{ scope: 'nope' }] }, b: { allow: [{ scope: 'video', ids: ['bad id'] }] } }
  })
  t.match(message, '/callers/a/allow/0/scope')
  t.match(message, '/callers/b/allow/0/ids/0')
})

t.test('caller names are limited to 1..256 characters', async (t) => {
  t.throws(
    () => createPolicy({ callers: { '': { allow: [{ scope: 'video' }] } } }),
    PolicyError,
    'an empty caller name'
  )
  t.throws(
    () => createPolicy({ callers: { ['c'.repeat(257)]: { allow: [{ scope: 'video' }] } } }),
    PolicyError,
    'a 257-character caller name'
  )
  t.ok(
    createPolicy({ callers: { ['c'.repeat(256)]: { allow: [{ scope: 'video' }] } } }),
    'a 256-character caller name is fine'
  )
})

t.test('the account-ids error path escapes the caller name like the schema errors do', async (t) => {
  t.throws(
    () => createPolicy({ callers: { 'a/b': { allow: [{ scope: 'account', ids: ['x'] }] } } }),
    { name: 'PolicyError', message: '/callers/a~1b/allow/0/ids: account scope takes no ids' },
    'a caller name with "/" is escaped as a JSON Pointer'
  )
  t.match(
    rejection(t, { callers: { 'a/b': { allow: [{ scope: 'video', ids: ['bad id'] }] } } }),
    '/callers/a~1b/allow/0/ids/0',
    'schema errors already escape it'
  )
})

t.test('loadPolicyFile', async (t) => {
  t.test('loads a valid file', async (t) => {
    const policy = await loadPolicyFile(policyFile(t, POLICY))
    t.equal(policy.callerCount, 3)
    t.ok(policy.isAllowed('portal-bff', 'project', '07ec9e38d4'))
    t.notOk(policy.isAllowed('portal-bff', 'project', 'other'))
    t.ok(policy.isAllowed('admin-bff', 'account', undefined))
  })

  t.test('an unreadable path names the file', async (t) => {
    const dir = t.testdir({})
    const missing = join(dir, 'missing.json')
    const error = await loadPolicyFile(missing).catch((e: unknown) => e)
    t.type(error, PolicyError)
    t.equal((error as Error).name, 'PolicyError')
    t.match((error as Error).message, `Policy file ${missing} cannot be read: `)
    t.match((error as Error).message, 'ENOENT')

    const directory = await loadPolicyFile(dir).catch((e: unknown) => e)
    t.type(directory, PolicyError)
    t.match((directory as Error).message, `Policy file ${dir} cannot be read: `)
  })

  t.test('bad JSON names the file', async (t) => {
    for (const text of ['{ "callers": ', '', '{ callers: {} }']) {
      const path = policyFile(t, text)
      await t.rejects(
        loadPolicyFile(path),
        { name: 'PolicyError', message: `Policy file ${path} is not valid JSON` },
        JSON.stringify(text)
      )
    }
  })

  t.test('a file that is not a policy is never quoted: the path and the reason only', async (t) => {
    // A policy path may be pointed at a secret by mistake.
    const secret = 'hunter2-d0n0tl0g'
    for (const [text, reason] of [
      [`SECRET=${secret}`, /is not valid JSON$/],
      [`${secret}`, /is not valid JSON$/],
      // Node 20 says the input ended; Node 22 says where the string began.
      [`{"a": "${secret}`, /is not valid JSON \((it ends too early|at line 1, column \d+)\)$/],
      [`{"a": 1 ${secret}}`, /is not valid JSON \(at line 1, column 9\)$/],
      [`{\n"key":\n  "${secret}"\n  "${secret}"}`, /is not valid JSON \(at line 4, column 3\)$/],
      [`{"clientSecret": "${secret}"}`, /: invalid policy:\n {2}\/: must have required properties callers$/],
      [`{"${secret}": {}}`, /: invalid policy:\n {2}\/: must have required properties callers$/],
      [`["${secret}"]`, /: invalid policy:\n {2}\/: must be object$/]
    ] as const) {
      const path = policyFile(t, text)
      const error = (await loadPolicyFile(path).catch((e: unknown) => e)) as Error
      t.type(error, PolicyError)
      t.match(error.message, `Policy file ${path}`, 'names the file')
      t.match(error.message, reason, `says why: ${reason}`)
      t.notMatch(error.message, secret, 'does not quote the content')
      t.notMatch(error.message, /clientSecret|SECRET/, 'not even its keys')
    }
  })

  t.test('a schema error names the file and the bad entry', async (t) => {
    const path = policyFile(t, {
      callers: { 'portal-bff': { allow: [{ scope: 'video' }, { scope: 'project', ids: ['bad id!'] }] } }
    })
    const error = (await loadPolicyFile(path).catch((e: unknown) => e)) as Error
    t.type(error, PolicyError)
    t.match(error.message, `Policy file ${path}: invalid policy:`)
    t.match(error.message, '/callers/portal-bff/allow/1/ids/0: must match pattern')
  })

  t.test('ids on an account rule name the file and the rule', async (t) => {
    const path = policyFile(t, { callers: { 'admin-bff': { allow: [{ scope: 'account', ids: ['x'] }] } } })
    await t.rejects(loadPolicyFile(path), {
      name: 'PolicyError',
      message: `Policy file ${path}: invalid policy:\n  /callers/admin-bff/allow/0/ids: account scope takes no ids`
    })
  })

  t.test('unknown properties name the file and the property', async (t) => {
    const path = policyFile(t, { callers: { app: { allow: [{ scope: 'video', expires: '2030-01-01' }] } } })
    await t.rejects(loadPolicyFile(path), { name: 'PolicyError', message: /\/callers\/app\/allow\/0(\/expires)?: / })
    await t.rejects(loadPolicyFile(path), { message: `Policy file ${path}: ` })
  })

  t.test('scope names in the file are case-insensitive', async (t) => {
    const policy = await loadPolicyFile(policyFile(t, { callers: { app: { allow: [{ scope: 'VIDEO' }] } } }))
    t.ok(policy.isAllowed('app', 'video', 'abc'))
  })
})

t.test('rate limits: per caller, a global default, and a built-in default; durations are checked', async (t) => {
  const policy = createPolicy({
    rateLimit: { max: 100, timeWindow: '30s' },
    callers: { a: { allow: [], rateLimit: { max: 5, timeWindow: 1000 } }, b: { allow: [], admin: true } }
  })
  t.same(policy.rateLimitFor('a'), { max: 5, timeWindowMs: 1000 })
  t.same(policy.rateLimitFor('b'), { max: 100, timeWindowMs: 30_000 })
  t.same(createPolicy({ callers: {} }).rateLimitFor('x'), { max: 600, timeWindowMs: 60_000 })
  t.ok(policy.isAdmin('b'))
  t.notOk(policy.isAdmin('a'))
  t.ok(policy.isKnown('a'))
  t.notOk(policy.isKnown('z'))
  t.throws(() => createPolicy({ callers: { a: { allow: [], rateLimit: { max: 5, timeWindow: 'soon' } } } }), {
    name: 'PolicyError',
    message: /\/callers\/a\/rateLimit\/timeWindow: not a duration/
  })
})

t.test("mint budgets: the caller's own, else its most generous role's, else none", async (t) => {
  const policy = createPolicy({
    callers: { a: { allow: [], mintBudget: { max: 2000, timeWindow: '1 hour' } }, b: { allow: [] } },
    roles: {
      Small: { allow: [], mintBudget: { max: 10, timeWindow: '1 minute' } },
      Large: { allow: [], mintBudget: { max: 100, timeWindow: 60_000 } },
      Plain: { allow: [] }
    }
  })
  t.same(policy.mintBudgetFor('a', ['Large']), { max: 2000, timeWindowMs: 3_600_000 }, 'its own wins')
  t.same(policy.mintBudgetFor('b', ['Small', 'Large', 'Plain']), { max: 100, timeWindowMs: 60_000 })
  t.same(policy.mintBudgetFor('b', ['Large', 'Small']), { max: 100, timeWindowMs: 60_000 }, 'in any order')
  t.equal(policy.mintBudgetFor('b', ['Plain', 'Unknown']), undefined)
  t.equal(policy.mintBudgetFor('b'), undefined, 'no budget: mints are not limited')
  t.throws(() => createPolicy({ callers: {}, roles: { R: { allow: [], mintBudget: { max: 1, timeWindow: 'x' } } } }), {
    name: 'PolicyError',
    message: /\/roles\/R\/mintBudget\/timeWindow: not a duration/
  })
})

t.test('app roles: a caller has the union of its own grants and those of its roles', async (t) => {
  const policy = createPolicy({
    callers: { 'admin-bff': { allow: [{ scope: 'account' }], rateLimit: { max: 5, timeWindow: '1 minute' } } },
    roles: {
      'Tokens.Video': { allow: [{ scope: 'Video' }] },
      'Tokens.Project': { allow: [{ scope: 'project', ids: ['07ec9e38d4'] }] }
    }
  })
  t.equal(policy.roleCount, 2)
  t.ok(policy.isAllowed('stranger', 'video', 'abc', ['Tokens.Video']), 'a role grants to a caller with no entry')
  t.notOk(policy.isAllowed('stranger', 'video', 'abc'), 'without the role, nothing')
  t.notOk(policy.isAllowed('stranger', 'video', 'abc', ['tokens.video']), 'role names are matched exactly')
  t.notOk(policy.isAllowed('stranger', 'account', undefined, ['Tokens.Video', 'Tokens.Project']), 'no account scope')
  t.notOk(policy.isAllowed('stranger', 'project', 'other', ['Tokens.Project']), "a role's ids bind")
  t.ok(policy.isAllowed('stranger', 'project', '07ec9e38d4', ['Unknown.Role', 'Tokens.Project']))
  t.ok(policy.isAllowed('admin-bff', 'video', 'abc', ['Tokens.Video']), "a listed caller's roles add to its grants")
  t.ok(policy.isAllowed('admin-bff', 'account', undefined, ['Tokens.Video']), 'and do not take its own away')
  t.notOk(policy.isKnown('stranger'), 'a caller known only through a role is not a listed caller')
  t.same(policy.rateLimitFor('stranger'), DEFAULT_RATE_LIMIT, "and has the policy's default rate limit")
  t.notOk(policy.isAdmin('stranger'))
  t.equal(createPolicy(POLICY).roleCount, 0, 'roles are optional')
})

t.test('the roles section is validated, naming the bad entry', async (t) => {
  const roles = (entries: unknown) => ({ callers: {}, roles: entries })
  const cases: Array<[unknown, RegExp]> = [
    [roles({ 'Tokens.Video': { allow: [{ scope: 'channel' }] } }), /\/roles\/Tokens\.Video\/allow\/0\/scope/],
    [
      roles({ 'Tokens.Video': { allow: [{ scope: 'account', ids: ['x'] }] } }),
      /\/roles\/Tokens\.Video\/allow\/0\/ids: account scope takes no ids/
    ],
    [roles({ 'Tokens.Video': { allow: [], admin: true } }), /\/roles\/Tokens\.Video/],
    [roles({ 'Tokens.Video': { allow: [], rateLimit: { max: 1, timeWindow: 1 } } }), /\/roles\/Tokens\.Video/],
    [roles({ 'Tokens Video': { allow: [] } }), /\/roles\/Tokens Video: a role is 1 to 256 printable/],
    [roles({ '': { allow: [] } }), /\/roles\/: a role is/],
    [roles({ ['r'.repeat(257)]: { allow: [] } }), /a role is 1 to 256/],
    [roles({ 'a/b c': { allow: [] } }), /\/roles\/a~1b c: a role/],
    [roles({ 'Tokens.\u0000': { allow: [] } }), /a role is/],
    [roles([]), /\/roles/]
  ]
  for (const [document, pattern] of cases) {
    t.match(rejection(t, document), pattern, JSON.stringify(document).slice(0, 90))
  }
})

t.test('explain names the rule that allowed a request, or why nothing did', async (t) => {
  const policy = createPolicy({
    callers: {
      'portal-bff': {
        allow: [{ scope: 'project', ids: ['p1'] }, { scope: 'video' }, { scope: 'project', ids: ['p2'] }]
      },
      'ops/bff': { allow: [{ scope: 'account' }] }
    }
  })
  t.same(policy.explain('portal-bff', 'video', 'v1'), { decision: 'allow', reason: '/callers/portal-bff/allow/1' })
  t.same(policy.explain('portal-bff', 'project', 'p2'), { decision: 'allow', reason: '/callers/portal-bff/allow/2' })
  t.same(policy.explain('ops/bff', 'account', undefined), { decision: 'allow', reason: '/callers/ops~1bff/allow/0' })
  t.same(policy.explain('stranger', 'video', 'v1'), { decision: 'deny', reason: 'unknown_caller' })
  t.same(policy.explain('portal-bff', 'account', undefined), { decision: 'deny', reason: 'scope_not_granted' })
  t.same(policy.explain('portal-bff', 'project', 'p3'), { decision: 'deny', reason: 'id_not_listed' })
  t.equal(policy.explain('portal-bff', 'video', 'a'), policy.explain('portal-bff', 'video', 'b'), 'made once per rule')
  const cases = [['portal-bff', 'video', 'v'], ['portal-bff', 'project', 'p3'], ['x', 'video', 'v']] as const
  for (const [caller, scope, id] of cases) {
    t.equal(policy.isAllowed(caller, scope, id), policy.explain(caller, scope, id).decision === 'allow')
  }
})

t.test('the policy hash tells two versions apart and ignores how the file is written', async (t) => {
  const one = { callers: { a: { allow: [{ scope: 'video' }] } } }
  t.match(createPolicy(one).hash, /^[0-9a-f]{64}$/)
  t.equal(createPolicy(one).hash, createPolicy(JSON.parse(JSON.stringify(one, null, 2))).hash)
  t.equal(createPolicy(one).hash, createPolicy({ callers: { a: { allow: [{ scope: 'Video' }] } } }).hash)
  t.not(createPolicy(one).hash, createPolicy({ callers: { b: { allow: [{ scope: 'video' }] } } }).hash)
})

t.test("explain with app roles: the caller's own rules first, then its roles", async (t) => {
  const policy = createPolicy({
    callers: { 'portal-bff': { allow: [{ scope: 'project', ids: ['p1'] }] } },
    roles: {
      'Tokens.Video': { allow: [{ scope: 'video' }] },
      'Tokens.Project': { allow: [{ scope: 'project', ids: ['p2'] }] }
    }
  })
  t.same(policy.explain('stranger', 'video', 'v', ['Tokens.Video']), {
    decision: 'allow',
    reason: '/roles/Tokens.Video/allow/0'
  })
  t.same(policy.explain('portal-bff', 'project', 'p2', ['Tokens.Project']), {
    decision: 'allow',
    reason: '/roles/Tokens.Project/allow/0'
  })
  t.same(policy.explain('stranger', 'video', 'v', ['No.Such.Role']), { decision: 'deny', reason: 'unknown_caller' })
  t.equal(policy.explain('stranger', 'account', undefined, ['Tokens.Video']).reason, 'scope_not_granted')
  t.equal(policy.explain('portal-bff', 'project', 'p3', ['Tokens.Project']).reason, 'id_not_listed')
})
