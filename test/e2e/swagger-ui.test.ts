// Swagger UI in a real browser (Debian's chromium through playwright-core) against the broker and the emulator.
import { existsSync } from 'node:fs'
import { mkdir } from 'node:fs/promises'
import type { Page } from 'playwright-core'
import t from 'tap'
import { build, emulatorFor } from '../helper.js'
import { CHROMIUM, launchChromium } from '../support/browser.js'

const ARTIFACTS = new URL('../../test-artifacts/', import.meta.url)

if (!existsSync(CHROMIUM)) {
  // .ci/run installs chromium and requires this test; a developer machine without it skips it.
  if (process.env.E2E_REQUIRE_BROWSER === '1') t.fail(`no chromium at ${CHROMIUM}`)
  else {
    t.test('Swagger UI in a browser', { skip: `no chromium at ${CHROMIUM} (apt-get install chromium)` }, async () => {})
  }
} else {
  const emulator = await emulatorFor(t)
  const broker = await build(t, { emulator })
  const baseUrl = await broker.app.listen({ port: 0, host: '127.0.0.1' })
  const browser = await launchChromium()
  t.teardown(() => browser.close())
  const page = await browser.newPage()
  page.setDefaultTimeout(10_000)
  // CSP violations, and any UI asset that failed to load (API answers such as the 403 below are expected).
  const pageProblems: string[] = []
  page.on('console', (message) => {
    if (/Content Security Policy|Refused to/i.test(message.text())) pageProblems.push(message.text())
  })
  page.on('response', (response) => {
    if (new URL(response.url()).pathname.startsWith('/docs') && response.status() >= 400) {
      pageProblems.push(`${response.status()} ${response.url()}`)
    }
  })
  page.on('requestfailed', (request) => pageProblems.push(`failed ${request.url()}`))

  const dialogButton = (page: Page, text: string) =>
    page.locator('.dialog-ux .auth-btn-wrapper button', { hasText: text })

  async function authorize (page: Page, token: string) {
    await page.locator('.auth-wrapper button.authorize').click()
    if (await dialogButton(page, 'Logout').isVisible()) await dialogButton(page, 'Logout').click()
    await page.locator('#auth-bearer-value').fill(token)
    await dialogButton(page, 'Authorize').click()
    await dialogButton(page, 'Close').click()
  }

  async function tryVideo (page: Page, videoId: string): Promise<{ status: string; body: string }> {
    const operation = page.locator('.opblock', {
      has: page.locator('.opblock-summary-path', { hasText: /^\/tokens\/video\/\{videoId\}$/ })
    })
    if (!(await operation.locator('.opblock-body').isVisible())) await operation.locator('.opblock-summary').click()
    const tryOut = operation.locator('button.try-out__btn')
    if ((await tryOut.textContent())?.includes('Try it out')) await tryOut.click()
    await operation.locator('input[placeholder="videoId"]').fill(videoId)
    await operation.locator('button.execute').click()
    const live = operation.locator('.live-responses-table .response')
    await live.first().waitFor()
    return {
      status: (await live.locator('.response-col_status').first().textContent())?.trim() ?? '',
      body: (await operation.locator('.live-responses-table .response-col_description pre').first().textContent()) ?? ''
    }
  }

  t.test('authorise, then "Try it out" on a video token returns 200 with an accessToken', async (t) => {
    const portal = await emulator.mintCallerToken('portal-bff')
    broker.logs.secret(portal)
    await page.goto(`${baseUrl}/docs`)
    await page.locator('.opblock-summary-path').first().waitFor()
    await authorize(page, portal)
    const { status, body } = await tryVideo(page, '07ec9e38d4')
    t.equal(status, '200')
    t.match(body, /"accessToken"/)
    broker.logs.secret((JSON.parse(body) as { accessToken: string }).accessToken)
    await mkdir(ARTIFACTS, { recursive: true })
    await page.screenshot({ path: new URL('swagger-ui-200.png', ARTIFACTS).pathname, fullPage: true })
  })

  t.test('"Try it out" on a batch sends its example body and shows each item answered', async (t) => {
    const operation = page.locator('.opblock', {
      has: page.locator('.opblock-summary-path', { hasText: /^\/tokens\/batch$/ })
    })
    await operation.locator('.opblock-summary').click()
    // Try it out is on from the start (tryItOutEnabled in src/plugins/docs.ts).
    await operation.locator('button.try-out__btn', { hasText: 'Cancel' }).waitFor()
    t.match(await operation.locator('.opblock-section-request-body textarea').inputValue(), /"requests"/, 'the example body')
    await operation.locator('button.execute').click()
    const live = operation.locator('.live-responses-table .response')
    await live.first().waitFor()
    t.equal((await live.locator('.response-col_status').first().textContent())?.trim(), '200')
    const shown = operation.locator('.live-responses-table .response-col_description pre').first()
    const body = (await shown.textContent()) ?? ''
    const { results } = JSON.parse(body) as { results: Array<{ status: number; accessToken?: string }> }
    for (const result of results) broker.logs.secret(result.accessToken)
    t.same(results.map((r) => r.status), [200, 200], 'the Video and Project items of the example')
  })

  t.test('the authorisation survives a reload', async (t) => {
    await page.reload()
    await page.locator('.opblock-summary-path').first().waitFor()
    await page.locator('.auth-wrapper button.authorize').click()
    t.ok(await dialogButton(page, 'Logout').isVisible(), 'still authorised')
    await dialogButton(page, 'Close').click()
  })

  t.test('a caller the policy denies sees 403 on the page', async (t) => {
    const stranger = await emulator.mintCallerToken('unlisted-bff')
    broker.logs.secret(stranger)
    await authorize(page, stranger)
    const { status, body } = await tryVideo(page, '07ec9e38d4')
    t.equal(status, '403')
    t.match(body, /POLICY_DENIED/)
  })

  t.test('the UI ran under the security headers: no CSP violation, no missing or external asset', async (t) => {
    t.same(pageProblems, [])
  })
}
