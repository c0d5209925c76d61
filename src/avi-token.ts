import { decodeJwt } from 'jose'

/**
 * Reads a Video Indexer access token's claims without verifying it: the broker got it from ARM
 * over TLS, and only needs its exp to know how long it may be served.
 */
export function readExpiry (accessToken: string): number | undefined {
  try {
    const { exp } = decodeJwt(accessToken)
    return typeof exp === 'number' ? exp * 1000 : undefined
  } catch {
    return undefined
  }
}
