import { readFileSync } from 'node:fs'

/** The broker's version, from package.json (beside dist/ in the image, as in the sources). */
export const PACKAGE_VERSION = (
  JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')) as { version: string }
).version
