import { randomBytes } from 'node:crypto'
import { readFile } from 'node:fs/promises'
import t from 'tap'
import { EnvSchema, loadConfig } from '../src/config.js'
import { startBrokerProcess } from '../scripts/broker-process.js'

const text = await readFile(new URL('../.env.example', import.meta.url), 'utf8')

t.test('.env.example documents every variable the broker reads', async (t) => {
  for (const name of Object.keys(EnvSchema.properties)) t.match(text, new RegExp(`^#? ?${name}=`, 'm'), name)
})

/** The variables a copied .env.example sets, read as dotenv and `node --env-file` read it. */
function copied (): Record<string, string> {
  return Object.fromEntries(
    text
      .split('\n')
      .filter((line) => /^[A-Z_]+=/.test(line))
      .map((line) => [line.slice(0, line.indexOf('=')), line.slice(line.indexOf('=') + 1)])
  )
}

t.test('a copied .env.example does not load: its placeholders fail validation, saying so', async (t) => {
  t.throws(() => loadConfig(copied()), {
    name: 'ConfigError',
    message: /AUDIT_HMAC_KEY: is a placeholder/
  })
  t.throws(() => loadConfig(copied()), { message: /AVI_SUBSCRIPTION_ID: is a placeholder/ })
})

t.test('a broker started on a copy of .env.example refuses to start, naming the placeholders', async (t) => {
  const dir = t.testdir({ '.env': text })
  const server = await startBrokerProcess({ args: ['--env-file', `${dir}/.env`, '--import', 'tsx', 'src/server.ts'] })
  t.same((await server.exited)[0], 1)
  t.match(server.output().stderr, /cannot start[^]*AUDIT_HMAC_KEY: is a placeholder/)
  t.notMatch(server.output().stderr, copied().AUDIT_HMAC_KEY as string, 'the placeholder is not echoed')
})

t.test('.env.example with its placeholders replaced is a valid configuration', async (t) => {
  t.ok(
    loadConfig({
      ...copied(),
      AUDIT_HMAC_KEY: randomBytes(32).toString('hex'),
      AVI_SUBSCRIPTION_ID: 'b04775c3-63fa-40f3-9430-139d2e5522d3'
    })
  )
})
