// The sample BFF page in a real browser (Debian's chromium through playwright-core): pick a video, and the player
// and insights widgets of the emulator's widget host report ready; no caller JWT ever reaches the browser.
import { existsSync } from 'node:fs'
import t from 'tap'
import { SAMPLE_VIDEOS } from '../../examples/bff/src/app.js'
import { liveBroker } from '../../packages/client/test/support/broker.js'
import { liveBff } from '../support/bff.js'
import { CHROMIUM, launchChromium } from '../support/browser.js'

if (!existsSync(CHROMIUM)) {
  // .ci/run installs chromium and requires this test; a developer machine without it skips it.
  if (process.env.E2E_REQUIRE_BROWSER === '1') t.fail(`no chromium at ${CHROMIUM}`)
  else t.test('the BFF page in a browser', { skip: `no chromium at ${CHROMIUM} (apt-get install chromium)` }, () => {})
} else {
  const bff = await liveBff(t, await liveBroker(t))
  const browser = await launchChromium()
  t.teardown(() => browser.close())
  const context = await browser.newContext()
  const page = await context.newPage()
  page.setDefaultTimeout(10_000)
  // Everything the browser sent and was sent, to look for the caller JWT in.
  const seen: string[] = []
  page.on('request', (request) => {
    seen.push(request.url(), JSON.stringify(request.headers()), request.postData() ?? '')
  })
  page.on('response', async (response) => {
    seen.push(JSON.stringify(await response.allHeaders()), await response.text().catch(() => ''))
  })

  t.test('pick a video: the player and insights frames show ready widgets', async (t) => {
    const video = SAMPLE_VIDEOS[0]!
    await page.goto(bff.url)
    await page.locator(`button[data-video-id="${video.id}"]`).click()
    const player = page.frameLocator('#player').locator('[data-vi-widget="player"]')
    await player.waitFor()
    t.equal(await player.getAttribute('data-vi-status'), 'ready')
    const insights = page.frameLocator('#insights').locator('[data-vi-widget="insights"]')
    await insights.waitFor()
    t.equal(await insights.getAttribute('data-vi-status'), 'ready')
  })

  t.test('no caller JWT reached the browser: page, requests, responses, storage', async (t) => {
    t.ok(bff.callerJwts.length > 0, 'the BFF did use a caller JWT')
    const storage = await page.evaluate<string>('JSON.stringify({ ...localStorage, ...sessionStorage })')
    const cookies = JSON.stringify(await context.cookies())
    const frames = await Promise.all(page.frames().map((frame) => frame.content()))
    const everything = [await page.content(), ...frames, storage, cookies, ...seen].join('\n')
    for (const jwt of bff.callerJwts) t.notOk(everything.includes(jwt), 'this caller JWT is nowhere')
  })
}
