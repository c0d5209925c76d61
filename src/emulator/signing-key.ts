import { SignJWT, calculateJwkThumbprint, exportJWK, generateKeyPair } from 'jose'
import type { CryptoKey, JWK, JWTPayload } from 'jose'

export interface SigningKey {
  kid: string
  privateKey: CryptoKey
  publicKey: CryptoKey
  /** The public key as a JWK with `kid`, `alg` and `use`, ready for a JWKS. */
  publicJwk: JWK
}

/** A fresh RS256 key pair whose `kid` is its RFC 7638 thumbprint. */
export async function createSigningKey (): Promise<SigningKey> {
  const { privateKey, publicKey } = await generateKeyPair('RS256')
  const jwk = await exportJWK(publicKey)
  const kid = await calculateJwkThumbprint(jwk)
  return { kid, privateKey, publicKey, publicJwk: { ...jwk, kid, alg: 'RS256', use: 'sig' } }
}

/** Signs with the key, its kid in the header; `header` adds parameters such as x5t. */
export function signJwt (key: SigningKey, payload: JWTPayload, header: Record<string, string> = {}): Promise<string> {
  const protectedHeader = { alg: 'RS256', kid: key.kid, typ: 'JWT', ...header }
  return new SignJWT(payload).setProtectedHeader(protectedHeader).sign(key.privateKey)
}
