// The sample BFF's routes against a real broker: the video list, unknown videos, and refusals passed on safely.
import t from 'tap'
import { SAMPLE_VIDEOS } from '../../examples/bff/src/app.js'
import { liveBroker } from '../../packages/client/test/support/broker.js'
import { liveBff } from '../support/bff.js'

const broker = await liveBroker(t)

t.test('the page, its script and the video list', async (t) => {
  const bff = await liveBff(t, broker)
  const page = await fetch(bff.url)
  t.equal(page.status, 200)
  t.match(await page.text(), /<script type="module" src="\/app.js">/)
  t.match(page.headers.get('content-security-policy'), /default-src 'self'/)
  t.equal((await fetch(`${bff.url}/app.js`)).headers.get('content-type'), 'text/javascript; charset=utf-8')
  t.same(await (await fetch(`${bff.url}/api/videos`)).json(), { videos: SAMPLE_VIDEOS })
})

t.test('a video not on the list is 404, and the broker is not asked', async (t) => {
  const bff = await liveBff(t, broker)
  const response = await fetch(`${bff.url}/api/videos/not-listed/embed`)
  t.equal(response.status, 404)
  t.match(await response.json(), { error: { code: 'UNKNOWN_VIDEO' } })
  t.same(bff.callerJwts, [])
})

t.test("a broker refusal other than 403 is 502 with the broker's code, and no caller JWT", async (t) => {
  // No account has this alias: the broker answers 404 UNKNOWN_ACCOUNT.
  const bff = await liveBff(t, broker, { account: 'nowhere' })
  const response = await fetch(`${bff.url}/api/videos/${SAMPLE_VIDEOS[0]!.id}/embed`)
  t.equal(response.status, 502)
  const body = await response.text()
  t.match(JSON.parse(body), { error: { code: 'UNKNOWN_ACCOUNT' } })
  for (const jwt of bff.callerJwts) t.notOk(body.includes(jwt), 'no caller JWT in the answer')
})

t.test('a caller the policy denies gets 403 from the BFF', async (t) => {
  const bff = await liveBff(t, broker, { caller: 'unlisted-bff' })
  const response = await fetch(`${bff.url}/api/videos/${SAMPLE_VIDEOS[0]!.id}/embed`)
  t.equal(response.status, 403)
  t.match(await response.json(), { error: { code: 'POLICY_DENIED' } })
})

t.test('a listed video gets player and insights URLs from the broker', async (t) => {
  const bff = await liveBff(t, broker)
  const response = await fetch(`${bff.url}/api/videos/${SAMPLE_VIDEOS[0]!.id}/embed`)
  t.equal(response.status, 200)
  t.equal(response.headers.get('cache-control'), 'no-store')
  const body = (await response.json()) as { player: string; insights: string }
  t.match(body.player, new RegExp(`/embed/player/[^/]+/${SAMPLE_VIDEOS[0]!.id}/\\?`))
  t.match(body.insights, /\/embed\/insights\/.*widgets=people%2Ckeywords%2Ctranscript/)
})
