import t from 'tap'
import { defaultAccount, generateToken, managementToken, send, startTestEmulator } from './fixtures/helpers.js'

let clock = Date.UTC(2026, 10, 1)
const emulator = await startTestEmulator(t, { now: () => clock })
const account = defaultAccount(emulator)
const management = await managementToken(emulator)
const mint = async (body: unknown) => (await generateToken(emulator, management, body)).json().accessToken as string
const video = await mint({ scope: 'Video', videoId: 'v1' })
const wholeAccount = await mint({ scope: 'Account' })
const project = await mint({ scope: 'Project', projectId: 'p1' })

async function open (widget: string, query: Record<string, string>, accountId = account.accountId, videoId = 'v1') {
  const url = `${emulator.webBaseUrl}/embed/${widget}/${accountId}/${videoId}/?${new URLSearchParams(query)}`
  const answer = await send(url)
  const root = /data-vi-widget="(\w+)" data-vi-status="(\w+)">([^<]*)</.exec(answer.text)
  return { status: answer.status, widget: root?.[1], state: root?.[2], reason: root?.[3] }
}

t.test('a Video token for this video, or an Account token, in the right location: ready', async (t) => {
  t.match(await open('player', { accessToken: video, location: account.location }), {
    status: 200,
    widget: 'player',
    state: 'ready'
  })
  t.match(await open('insights', { accessToken: wholeAccount, location: account.location }, account.accountId, 'any'), {
    status: 200,
    widget: 'insights',
    state: 'ready'
  })
})

t.test('everything else: 401 denied, with the reason', async (t) => {
  const cases: Array<[Record<string, string>, string, string, RegExp]> = [
    [{ location: account.location }, account.accountId, 'v1', /no access token/],
    [{ accessToken: video }, account.accountId, 'v1', /no location/],
    [{ accessToken: `${video}x`, location: account.location }, account.accountId, 'v1', /not valid/],
    [{ accessToken: video, location: account.location }, '00000000-0000-4000-8000-000000000000', 'v1', /another account/],
    [{ accessToken: video, location: 'westus2' }, account.accountId, 'v1', /location/],
    [{ accessToken: video, location: account.location }, account.accountId, 'v2', /not for this video/],
    [{ accessToken: project, location: account.location }, account.accountId, 'v1', /not for this video/]
  ]
  for (const [query, accountId, videoId, reason] of cases) {
    t.match(await open('player', query, accountId, videoId), { status: 401, state: 'denied', reason }, String(reason))
  }
  clock += 2 * 3600_000
  t.match(await open('player', { accessToken: video, location: account.location }), { status: 401, reason: /expired/ })
})
