// An embed URL from a token response, loaded in a real browser (Debian's chromium through playwright-core)
// against the emulator's stand-in for the widget host.
import { existsSync } from 'node:fs'
import t from 'tap'
import { build, emulatorFor } from '../helper.js'
import { CHROMIUM, launchChromium } from '../support/browser.js'

if (!existsSync(CHROMIUM)) {
  if (process.env.E2E_REQUIRE_BROWSER === '1') t.fail(`no chromium at ${CHROMIUM}`)
  else {
    const skip = `no chromium at ${CHROMIUM} (apt-get install chromium)`
    t.test('embed widgets in a browser', { skip }, async () => {})
  }
} else {
  const emulator = await emulatorFor(t)
  const broker = await build(t, { emulator })
  const portal = await emulator.mintCallerToken('portal-bff')
  const browser = await launchChromium()
  t.teardown(() => browser.close())
  const page = await browser.newPage()
  page.setDefaultTimeout(10_000)

  const tokenOf = async (videoId: string) => {
    // Readiness does not wait for Accounts_Get: ask until the answer carries the embed URLs.
    let body: { accessToken: string; embed?: { player: string; insights: string } } | undefined
    for (let i = 0; i < 200 && body?.embed === undefined; i++) {
      if (i > 0) await new Promise((resolve) => setTimeout(resolve, 25))
      body = (await broker.request({ url: `/tokens/video/${videoId}`, token: portal })).json()
    }
    return body as { accessToken: string; embed: { player: string; insights: string } }
  }
  const widget = async (url: string) => {
    const response = await page.goto(url)
    const root = page.locator('[data-vi-widget]')
    return {
      status: response?.status(),
      widget: await root.getAttribute('data-vi-widget'),
      state: await root.getAttribute('data-vi-status')
    }
  }

  t.test("a response's embed.player URL shows the player ready; insights too", async (t) => {
    const { embed } = await tokenOf('v1')
    t.match(await widget(embed.player), { status: 200, widget: 'player', state: 'ready' })
    t.match(await widget(embed.insights), { status: 200, widget: 'insights', state: 'ready' })
  })

  t.test("another video's token is denied with 401 and a reason", async (t) => {
    const { embed } = await tokenOf('v1')
    const { accessToken: otherToken } = await tokenOf('v2')
    const url = new URL(embed.player)
    url.searchParams.set('accessToken', otherToken)
    t.match(await widget(url.href), { status: 401, widget: 'player', state: 'denied' })
    t.match(await page.locator('[data-vi-widget]').textContent(), /not for this video/)
  })

  t.test('a wrong location is denied', async (t) => {
    const url = new URL((await tokenOf('v1')).embed.player)
    url.searchParams.set('location', 'westus2')
    t.match(await widget(url.href), { status: 401, state: 'denied' })
  })
}
