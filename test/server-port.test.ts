// The real entry point when its port is taken: a configuration error naming the variable, not a stack trace.
import { once } from 'node:events'
import { createServer } from 'node:net'
import t from 'tap'
import { startBrokerProcess } from '../scripts/broker-process.js'
import { TEST_ENV } from './helper.js'

t.test('a PORT or METRICS_PORT in use stops the broker, naming the variable', async (t) => {
  const holder = createServer()
  holder.listen(0, '127.0.0.1')
  await once(holder, 'listening')
  t.teardown(() => new Promise((resolve) => holder.close(resolve)))
  const taken = String((holder.address() as { port: number }).port)
  const dir = t.testdir({ 'policy.json': JSON.stringify({ callers: {} }) })
  const env = { ...TEST_ENV, POLICY_FILE: `${dir}/policy.json`, HOST: '127.0.0.1' }

  for (const [variable, extra] of [
    ['PORT', { PORT: taken }],
    ['METRICS_PORT', { PORT: '0', METRICS_PORT: taken }]
  ] as const) {
    const server = await startBrokerProcess({ env: { ...env, ...extra } })
    t.same((await server.exited)[0], 1, `${variable}: exits 1`)
    const { stderr } = server.output()
    t.match(stderr, `cannot start. Invalid configuration:\n  ${variable}: port ${taken} on 127.0.0.1 is in use`)
    t.notMatch(stderr, /\n\s+at /, 'no stack trace')
  }
})
