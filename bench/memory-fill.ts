// A child process of bench/parts/memory.ts (run with --expose-gc): fills the broker's token cache
// (createTokenCache, as app.ts configures it) with `count` realistic tokens and prints the memory it takes.
//   node --expose-gc --import tsx bench/memory-fill.ts <count> <maxEntries>
import { randomBytes, randomUUID } from 'node:crypto'
import { createAuditor } from '../src/audit.js'
import { AUDIT_HMAC_KEY } from './common.js'
import { readExpiry } from '../src/avi-token.js'
import { createTokenCache } from '../src/token-cache.js'
import type { Account } from '../src/token-source.js'

const count = Number(process.argv[2])
const maxEntries = Number(process.argv[3] ?? count)
const gc = (globalThis as { gc?: () => void }).gc
if (!gc) throw new Error('run with --expose-gc')

const ACCOUNT: Account = {
  alias: 'default',
  subscriptionId: 'b04775c3-63fa-40f3-9430-139d2e5522d3',
  resourceGroup: 'contosto-azurevideoindexer-rg',
  name: 'contosto-azurevideoindexer'
}
const now = Date.now()
const b64 = (text: string) => Buffer.from(text).toString('base64url')
const header = b64(
  JSON.stringify({ alg: 'RS256', kid: randomBytes(32).toString('base64url').slice(0, 43), typ: 'JWT' })
)
const keyVersion = randomUUID().replaceAll('-', '')
const tenantId = randomUUID()

/**
 * The body ARM answers, with a token shaped like the emulator's (the claims of a real restricted viewer
 * token, RS256-sized signature): about 1,290 characters. The token reaches the cache through JSON.parse,
 * as in src/arm.ts, so it is a flat string of its own, like in production.
 */
function armBody (videoId: string): string {
  const iat = Math.floor(now / 1000)
  const payload = b64(
    JSON.stringify({
      Version: '2.0.0.0',
      KeyVersion: keyVersion,
      AccountId: '6a2d8d1e-3e1c-4d8a-9f6b-1c2d3e4f5a6b',
      AccountType: 'Arm',
      TenantId: tenantId,
      ArmResourceGroup: 'contosto-azurevideoindexer-rg',
      ArmAccountName: ACCOUNT.name,
      Permission: 'Reader',
      Scope: 'Video',
      VideoId: videoId,
      ExternalUserId: randomUUID(),
      UserType: 'ServicePrincipal',
      IssuerLocation: 'eastus',
      TokenId: randomUUID(),
      iat,
      nbf: iat,
      exp: iat + 3600,
      iss: 'https://api.videoindexer.ai/',
      aud: 'https://api.videoindexer.ai/'
    })
  )
  return JSON.stringify({ accessToken: `${header}.${payload}.${randomBytes(256).toString('base64url')}` })
}

function snapshot () {
  gc!()
  gc!()
  const usage = process.memoryUsage()
  return { rss: usage.rss, heapUsed: usage.heapUsed, external: usage.external + usage.arrayBuffers }
}

// The broker's own fingerprint function: each cached token keeps its fingerprint, which counts as overhead.
const auditor = createAuditor({ stream: { write () {} }, hmacKey: () => AUDIT_HMAC_KEY })
let tokenChars = 0
// Measured before the cache exists: the LRU's preallocated slots count as overhead.
const before = snapshot()
// As ARM's tier answers: the token from the response body, its exp read once, the request id header.
const cache = createTokenCache({
  source: {
    async get (request) {
      const accessToken = (JSON.parse(armBody(request.id as string)) as { accessToken: string }).accessToken
      tokenChars += accessToken.length
      // As read from the x-ms-request-id header: a flat string (randomUUID() alone returns a ~500-byte rope).
      return {
        accessToken,
        expiresAt: readExpiry(accessToken),
        armRequestId: Buffer.from(randomUUID()).toString('latin1')
      }
    }
  },
  maxEntries,
  minRemainingSeconds: 300,
  refreshAheadSeconds: 900,
  clock: { now: () => now },
  fingerprint: auditor.fingerprint,
  onRefreshError: () => {}
})
const BATCH = 1000
for (let start = 0; start < count; start += BATCH) {
  const batch: Array<Promise<unknown>> = []
  for (let i = start; i < Math.min(count, start + BATCH); i++) {
    const videoId = i.toString(16).padStart(10, '0')
    batch.push(
      cache.get({ account: ACCOUNT, scope: 'video', id: videoId })
    )
  }
  await Promise.all(batch)
}
/** What this process prints, as one line of JSON. */
export interface MemoryFill {
  inserted: number
  maxEntries: number
  held: number
  meanTokenBytes: number
  rssBytes: number
  heapUsedBytes: number
  rssDeltaBytes: number
  heapDeltaBytes: number
  heapPerTokenBytes: number
  overheadPerTokenBytes: number
}

const after = snapshot()
const held = cache.size
const meanTokenBytes = tokenChars / count
const heapDelta = after.heapUsed - before.heapUsed
const fill: MemoryFill = {
  inserted: count,
  maxEntries,
  held,
  meanTokenBytes,
  rssBytes: after.rss,
  heapUsedBytes: after.heapUsed,
  rssDeltaBytes: after.rss - before.rss,
  heapDeltaBytes: heapDelta,
  heapPerTokenBytes: heapDelta / held,
  // Everything on the heap per cached token beyond the token's own characters (1 byte each, one-byte string).
  overheadPerTokenBytes: heapDelta / held - meanTokenBytes
}
process.stdout.write(JSON.stringify(fill) + '\n')
