import { BrokerError } from './broker-error.js'

/** The part of @azure/identity's TokenCredential the client uses (any credential of that package fits). */
export interface TokenCredentialLike {
  getToken(scopes: string | string[], options?: object): Promise<{ token: string; expiresOnTimestamp: number } | null>
}

/**
 * Where the caller JWT comes from: a function (told when the broker refused the last one, so it must not hand it
 * back), or a TokenCredential, whose tokens the client keeps until a minute before they expire.
 */
export type CallerCredential = ((options: { forceRefresh: boolean }) => Promise<string> | string) | TokenCredentialLike

const CREDENTIAL_MARGIN_MS = 60_000

/** Returns the caller JWT; `forceRefresh` after a 401, so a refused token is not sent again. */
export type CallerToken = (forceRefresh: boolean) => Promise<string>

export function callerToken (credential: CallerCredential, scope: string | undefined): CallerToken {
  if (typeof credential === 'function') {
    return async (forceRefresh) => await credential({ forceRefresh })
  }
  if (scope === undefined) {
    throw new TypeError('createBrokerClient: a TokenCredential needs `scope`, e.g. api://vi-token-broker/.default')
  }
  let kept: { token: string; expiresOnTimestamp: number } | undefined
  return async (forceRefresh) => {
    if (forceRefresh || kept === undefined || kept.expiresOnTimestamp - CREDENTIAL_MARGIN_MS <= Date.now()) {
      let fresh
      try {
        fresh = await credential.getToken(scope)
      } catch (error) {
        const message = 'The credential could not get a caller token'
        throw new BrokerError(0, 'CREDENTIAL_UNAVAILABLE', message, { cause: error })
      }
      if (fresh === null) throw new BrokerError(0, 'CREDENTIAL_UNAVAILABLE', 'The credential returned no caller token')
      kept = fresh
    }
    return kept.token
  }
}
