// `npm run openapi`: writes openapi/openapi.json from the route schemas, and the client's types from it
// (the drift tests compare against both).
import { mkdir, writeFile } from 'node:fs/promises'
import { generateTypes, TYPES_FILE } from '../packages/client/scripts/openapi-types.js'
import { buildOpenApiApp } from './openapi-app.js'

const app = await buildOpenApiApp()
await mkdir('openapi', { recursive: true })
await writeFile('openapi/openapi.json', `${JSON.stringify(app.swagger(), null, 2)}\n`)
await app.close()
await writeFile(TYPES_FILE, await generateTypes())
process.stdout.write('wrote openapi/openapi.json and packages/client/src/generated/openapi.ts\n')
