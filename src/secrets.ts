import type { Logger } from 'pino'
import { hmacKeyId } from './audit.js'
import type { Config, SecretSource } from './config.js'
import { parseTextSecret } from './config/secrets.js'
import { createSecretFile, type SecretFile, type SecretReloadResult } from './secret-file.js'
import { parseKeyring, rotateKeyring, type Keyring } from './token-sealer.js'

/** Getters of the secrets in force; those given as _FILE variables follow their files. */
export interface BrokerSecrets {
  auditHmacKey: () => string
  /** Set in HS256 mode. */
  jwtSecret: (() => string) | undefined
  /** Set with Redis. */
  keyring: (() => Keyring) | undefined
  /** Stops watching the files. */
  close(): void
}

/** Opens the configured secrets; a _FILE that cannot be read or parsed at boot throws a ConfigError naming it. */
export function openSecrets (
  config: Readonly<Config>,
  options: { logger: Logger; onReload(variable: string, result: SecretReloadResult): void }
): BrokerSecrets {
  const files: Array<SecretFile<unknown>> = []
  function open<T> (
    source: SecretSource<T>,
    parse: (text: string, previous: T | undefined) => T,
    describe?: (secret: T) => Record<string, unknown>
  ): () => T {
    if ('value' in source) return () => source.value
    const { variable } = source
    const file = createSecretFile<T>({
      variable,
      path: source.file,
      parse,
      logger: options.logger,
      onReload: (result) => options.onReload(variable, result),
      ...(describe ? { describe } : {})
    })
    files.push(file as SecretFile<unknown>)
    return file.current
  }
  const { auth, redis } = config
  return {
    auditHmacKey: open(config.auditHmacKey, parseTextSecret, (key) => ({ fingerprintKeyId: hmacKeyId(key) })),
    jwtSecret: auth.mode === 'hs256' ? open(auth.secret, parseTextSecret) : undefined,
    // A new key seals new values; the keys it replaces still open what they sealed.
    keyring: redis
      ? open(
        redis.keyring,
        (text, previous) => rotateKeyring(parseKeyring(text), previous),
        (ring) => ({ currentKid: ring.currentKid, kids: [...ring.keys.keys()] })
      )
      : undefined,
    close: () => {
      for (const file of files) file.close()
    }
  }
}
