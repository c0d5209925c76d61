// The client's types follow the broker's committed OpenAPI document.
import { readFile } from 'node:fs/promises'
import t from 'tap'
import { generateTypes, TYPES_FILE } from '../scripts/openapi-types.js'

t.test('src/generated/openapi.ts is what openapi-typescript makes of openapi/openapi.json', async (t) => {
  const committed = await readFile(TYPES_FILE, 'utf8')
  t.ok(committed === (await generateTypes()), 'up to date; if not, run `npm run openapi`')
})
