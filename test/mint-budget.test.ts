// The per-caller mint budget on its own (no Redis): a fixed window per caller, counted in mints.
import pino from 'pino'
import t from 'tap'
import { createMetrics } from '../src/metrics.js'
import { createMintBudget } from '../src/mint-budget.js'
import type { Account, TokenRequest } from '../src/token-source.js'
import { fakeClock } from './support/fake-clock.js'

/** The error a promise rejects with (a test fails if it resolves). */
async function thrown (promise: Promise<unknown>): Promise<unknown> {
  return promise.then(() => new Error('resolved'), (error: unknown) => error)
}

const account: Account = { alias: 'main', subscriptionId: 's', resourceGroup: 'rg', name: 'a' }
const budget = { caller: 'walker-bff', max: 2, timeWindowMs: 60_000 }

function setup (fail = () => false) {
  const clock = fakeClock()
  const metrics = createMetrics()
  let mints = 0
  const source = {
    async get () {
      mints++
      if (fail()) throw new Error('ARM failed')
      return { accessToken: 'token', expiresAt: clock.now() + 3_600_000, armRequestId: undefined }
    }
  }
  const budgeted = createMintBudget({ source, clock, logger: pino({ level: 'silent' }), metrics })
  const get = (id: string, extra: Partial<TokenRequest> = {}) =>
    budgeted.get({ account, scope: 'video', id, mintBudget: budget, ...extra })
  const refusals = async () => (await metrics.mintBudgetRefusals.get()).values
  return { clock, get, mints: () => mints, refusals, budgeted }
}

t.test('a caller gets max mints per window, then 429 MINT_BUDGET_EXCEEDED until the window ends', async (t) => {
  const { clock, get, mints, refusals } = setup()
  await get('v1')
  clock.advance(20_000)
  await get('v2')
  const refused = await thrown(get('v3'))
  t.match(refused, { code: 'MINT_BUDGET_EXCEEDED', statusCode: 429, retryAfterSeconds: 40 })
  t.match(refused, { reason: 'mint_budget_exceeded' })
  t.equal(mints(), 2, 'the refused request reached no mint')
  t.match(await refusals(), [{ labels: { priority: 'caller' }, value: 1 }])
  clock.advance(40_000)
  await get('v3')
  t.equal(mints(), 3, 'a new window, a new budget')
})

t.test('a background refresh is charged too, and its refusal is counted as such', async (t) => {
  const { get, refusals } = setup()
  await get('v1')
  await get('v2', { priority: 'background' })
  t.match(await thrown(get('v1', { priority: 'background' })), { code: 'MINT_BUDGET_EXCEEDED' })
  t.match(await refusals(), [{ labels: { priority: 'background' }, value: 1 }])
})

t.test('a mint that fails gives its charge back', async (t) => {
  let failing = true
  const { get, mints } = setup(() => failing)
  await t.rejects(get('v1'), /ARM failed/)
  await t.rejects(get('v1'), /ARM failed/)
  failing = false
  await get('v1')
  await get('v2')
  t.equal(mints(), 4, 'the two failures cost nothing')
  t.match(await thrown(get('v3')), { code: 'MINT_BUDGET_EXCEEDED' })
})

t.test('a request without a budget is not counted', async (t) => {
  const { budgeted, mints } = setup()
  for (let i = 0; i < 5; i++) await budgeted.get({ account, scope: 'video', id: `v${i}` })
  t.equal(mints(), 5)
})
