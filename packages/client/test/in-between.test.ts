// What something between the client and the broker (a proxy, a gateway) may answer instead of the broker's JSON.
// A plain loopback server plays it; everything the broker itself answers is tested against the real broker.
import { createServer, type ServerResponse } from 'node:http'
import type { AddressInfo } from 'node:net'
import t from 'tap'
import { BrokerError, createBrokerClient } from '../src/index.js'

const answers: Array<(response: ServerResponse) => void> = []
const server = createServer((_request, response) => (answers.shift() as (response: ServerResponse) => void)(response))
await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
t.teardown(() => new Promise((resolve) => server.close(resolve)))
const baseUrl = `http://127.0.0.1:${(server.address() as AddressInfo).port}`
const broker = () => createBrokerClient({ baseUrl, credential: () => 'caller-jwt', maxAttempts: 2 })

const html = (status: number) => (response: ServerResponse) =>
  response.writeHead(status, { 'content-type': 'text/html' }).end('<html><body>Bad gateway</body></html>')
const json = (body: unknown) => (response: ServerResponse) =>
  response.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify(body))

async function refusal (promise: Promise<unknown>): Promise<BrokerError> {
  const error = await promise.then(() => undefined, (error: unknown) => error)
  if (!(error instanceof BrokerError)) throw new Error(`expected a BrokerError, got ${String(error)}`)
  return error
}

t.test('an HTML error page becomes HTTP_<status>', async (t) => {
  answers.push(html(502))
  const error = await refusal(broker().videoToken('v1'))
  t.match(error, { status: 502, code: 'HTTP_502', message: 'The broker answered 502' })
})

t.test('a 503 without Retry-After is retried after a second, within the attempts', async (t) => {
  answers.push(html(503), html(503))
  t.match(await refusal(broker().videoToken('v1')), { status: 503, code: 'HTTP_503', retryAfterSeconds: undefined })
  t.equal(answers.length, 0, 'both attempts made')
})

t.test('a 200 that is not JSON, or not a token, is INVALID_RESPONSE', async (t) => {
  answers.push(html(200), json({ accessToken: 'x' }), json(null))
  t.match(await refusal(broker().videoToken('v1')), { status: 200, code: 'INVALID_RESPONSE' })
  t.match(await refusal(broker().videoToken('v1')), { status: 200, code: 'INVALID_RESPONSE' })
  t.match(await refusal(broker().videoToken('v1')), { status: 200, code: 'INVALID_RESPONSE' })
})

t.test('an embed answer without a url, or a batch without one result per request, is INVALID_RESPONSE', async (t) => {
  answers.push(json({ expiresOn: new Date().toISOString() }), json({ results: [] }), json(null))
  t.match(await refusal(broker().embedUrl('player', 'v1')), { code: 'INVALID_RESPONSE' })
  t.match(await refusal(broker().batch([{ scope: 'video', id: 'v1' }])), { code: 'INVALID_RESPONSE' })
  t.match(await refusal(broker().batch([{ scope: 'account' }])), { code: 'INVALID_RESPONSE' })
})
