/** What the status page shows of one identity; times in epoch ms, never a token. */
export interface IdentityObservations {
  /** Its latest ARM token: when it was obtained and when it expires. */
  identityToken?: { obtainedAt: number; expiresAt: number }
  /** ARM's latest answer to it (status 0: no answer). */
  lastAnswer?: { status: number; at: number }
  /** x-ms-ratelimit-remaining-subscription-writes from that answer. */
  remainingWrites?: number
}

export type ArmObservations = Map<string, IdentityObservations>
