import { createCipheriv, createDecipheriv, randomBytes } from 'node:crypto'

const TAG_BYTES = 16

/** AES-256-GCM keys by id; the first is used to seal, all of them to open, so keys can be rotated. */
export interface Keyring {
  currentKid: string
  keys: ReadonlyMap<string, Buffer>
}

export class KeyringError extends Error {
  override name = 'KeyringError'
}

/** Parses CACHE_ENCRYPTION_KEY: `kid:base64key[,kid:base64key...]`, newest first; each key 32 bytes. */
export function parseKeyring (value: string): Keyring {
  const keys = new Map<string, Buffer>()
  for (const entry of value.split(',')) {
    const match = /^([A-Za-z0-9_-]{1,32}):([A-Za-z0-9+/=_-]+)$/.exec(entry.trim())
    if (!match) throw new KeyringError('each entry must be kid:base64key (kid: letters, digits, _ or -)')
    const [, kid, encoded] = match as unknown as [string, string, string]
    const key = Buffer.from(encoded, 'base64')
    if (key.length !== 32) {
      throw new KeyringError(`key "${kid}" must be 32 bytes (base64 of 32 random bytes), not ${key.length}`)
    }
    if (keys.has(kid)) throw new KeyringError(`key id "${kid}" appears twice`)
    keys.set(kid, key)
  }
  return { currentKid: [...keys.keys()][0] as string, keys }
}

/** Keys kept to open values sealed before a rotation, beside the keys of the current ring. */
const MAX_KEYS = 4

/**
 * The ring after a rotation (a new CACHE_ENCRYPTION_KEY_FILE): the new ring's keys, then keys of the
 * previous ring that it no longer lists, so values sealed before the swap still open (up to MAX_KEYS in all).
 */
export function rotateKeyring (next: Keyring, previous: Keyring | undefined): Keyring {
  const keys = new Map(next.keys)
  for (const [kid, key] of previous?.keys ?? []) if (keys.size < MAX_KEYS && !keys.has(kid)) keys.set(kid, key)
  return { currentKid: next.currentKid, keys }
}

/**
 * Seals a value for storage outside the process. The associated data (the cache key the value is
 * stored for) is authenticated, so a value copied under another key fails to open.
 * Format: v1.<kid>.<iv>.<tag>.<ciphertext>, base64url parts.
 */
export function seal (keyring: Keyring, plaintext: string, associatedData: string): string {
  const iv = randomBytes(12)
  const cipher = createCipheriv('aes-256-gcm', keyring.keys.get(keyring.currentKid) as Buffer, iv, {
    authTagLength: TAG_BYTES
  })
  cipher.setAAD(Buffer.from(associatedData))
  const ciphertext = Buffer.concat([cipher.update(plaintext, 'utf8'), cipher.final()])
  return ['v1', keyring.currentKid, iv, cipher.getAuthTag(), ciphertext]
    .map((part) => (typeof part === 'string' ? part : part.toString('base64url')))
    .join('.')
}

/** Opens a sealed value; throws on an unknown key id, a malformed value, or failed authentication. */
export function open (keyring: Keyring, sealed: string, associatedData: string): string {
  const parts = sealed.split('.')
  if (parts.length !== 5 || parts[0] !== 'v1') throw new KeyringError('not a sealed value')
  const [, kid, iv, tag, ciphertext] = parts as [string, string, string, string, string]
  const key = keyring.keys.get(kid)
  if (!key) throw new KeyringError(`unknown key id "${kid}"`)
  // GCM accepts a prefix of the tag as a tag: without the pin, a 4-byte tag would be forgeable in 2^32 tries.
  const authTag = Buffer.from(tag, 'base64url')
  if (authTag.length !== TAG_BYTES) throw new KeyringError(`the tag must be ${TAG_BYTES} bytes, not ${authTag.length}`)
  const decipher = createDecipheriv('aes-256-gcm', key, Buffer.from(iv, 'base64url'), { authTagLength: TAG_BYTES })
  decipher.setAAD(Buffer.from(associatedData))
  decipher.setAuthTag(authTag)
  return Buffer.concat([decipher.update(Buffer.from(ciphertext, 'base64url')), decipher.final()]).toString('utf8')
}
