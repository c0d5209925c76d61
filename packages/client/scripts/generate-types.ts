// `npm run types -w packages/client`: rewrites src/generated/openapi.ts from openapi/openapi.json.
import { writeFile } from 'node:fs/promises'
import { generateTypes, TYPES_FILE } from './openapi-types.js'

await writeFile(TYPES_FILE, await generateTypes())
process.stdout.write(`wrote ${TYPES_FILE.pathname}\n`)
