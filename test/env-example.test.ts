import { readFile } from 'node:fs/promises'
import t from 'tap'
import { EnvSchema, loadConfig } from '../src/config.js'

const text = await readFile(new URL('../.env.example', import.meta.url), 'utf8')

t.test('.env.example documents every variable the broker reads', async (t) => {
  for (const name of Object.keys(EnvSchema.properties)) t.match(text, new RegExp(`^#? ?${name}=`, 'm'), name)
})

t.test('.env.example, as written, is a valid configuration', async (t) => {
  const env = Object.fromEntries(
    text
      .split('\n')
      .filter((line) => /^[A-Z_]+=/.test(line))
      .map((line) => [line.slice(0, line.indexOf('=')), line.slice(line.indexOf('=') + 1)])
  )
  t.ok(loadConfig(env))
})
