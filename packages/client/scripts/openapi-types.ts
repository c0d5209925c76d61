// The client's types, generated from the broker's committed OpenAPI document (`npm run openapi` writes both).
import { readFile } from 'node:fs/promises'
import openapiTS, { astToString, type OpenAPI3 } from 'openapi-typescript'

export const OPENAPI_FILE = new URL('../../../openapi/openapi.json', import.meta.url)
export const TYPES_FILE = new URL('../src/generated/openapi.ts', import.meta.url)

const HEADER = '// Generated from openapi/openapi.json by `npm run openapi`; do not edit (a test checks it).\n'

/** The TypeScript source of the document's paths and components, as openapi-typescript writes them. */
export async function generateTypes (): Promise<string> {
  const document = JSON.parse(await readFile(OPENAPI_FILE, 'utf8')) as OpenAPI3
  return HEADER + astToString(await openapiTS(document, { silent: true }))
}
