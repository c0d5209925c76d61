import { SignJWT, type JWTPayload } from 'jose'

export const TEST_ISSUER = 'https://issuer.test/'
export const TEST_AUDIENCE = 'api://vi-token-broker-test'
export const TEST_SECRET = 'test-secret-that-is-at-least-32-bytes-long!'

/** An HS256 caller token for the test config; claims can override or (with undefined) drop defaults. */
export async function callerToken (
  caller: string,
  options: {
    claims?: Record<string, unknown>
    expiresIn?: string | number
    secret?: string
    header?: Record<string, unknown>
  } = {}
): Promise<string> {
  const defaults = { iss: TEST_ISSUER, aud: TEST_AUDIENCE, azp: caller, sub: caller }
  const claims: Record<string, unknown> = { ...defaults, ...options.claims }
  const jwt = new SignJWT(dropUndefined(claims)).setProtectedHeader({ alg: 'HS256', typ: 'JWT', ...options.header })
  // iat is now unless the claims set it (or, with undefined, leave it out).
  if (!('iat' in claims)) jwt.setIssuedAt()
  if (options.expiresIn !== null) jwt.setExpirationTime(options.expiresIn ?? '1h')
  return jwt.sign(new TextEncoder().encode(options.secret ?? TEST_SECRET))
}

/** A Video Indexer-like access token: only its exp matters to the broker. */
export async function aviToken (expiresAtSeconds: number, extra: JWTPayload = {}): Promise<string> {
  return new SignJWT({ iss: 'https://api.videoindexer.ai/', ...extra })
    .setProtectedHeader({ alg: 'HS256' })
    .setExpirationTime(expiresAtSeconds)
    .sign(new TextEncoder().encode('avi-signing-key-for-tests-only-0123456789'))
}

function dropUndefined (claims: Record<string, unknown>): JWTPayload {
  return Object.fromEntries(Object.entries(claims).filter(([, value]) => value !== undefined))
}
