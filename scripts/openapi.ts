// `npm run openapi`: writes openapi/openapi.json from the route schemas (the drift test compares against it).
import { mkdir, writeFile } from 'node:fs/promises'
import { buildOpenApiApp } from './openapi-app.js'

const app = await buildOpenApiApp()
await mkdir('openapi', { recursive: true })
await writeFile('openapi/openapi.json', `${JSON.stringify(app.swagger(), null, 2)}\n`)
await app.close()
process.stdout.write('wrote openapi/openapi.json\n')
