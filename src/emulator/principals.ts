import { createHash, randomUUID } from 'node:crypto'

/** The identity a management token is issued to. */
export interface Principal {
  clientId: string
  /** The object id; ARM throttles per subscription and principal. */
  principalId: string
}

/** How a caller names a user-assigned identity (at most one field set). */
export interface IdentitySelector {
  clientId?: string | undefined
  principalId?: string | undefined
  resourceId?: string | undefined
}

export interface Principals {
  /** The system-assigned identity, new for each emulator. */
  readonly system: Principal
  select(selector: IdentitySelector): Principal
}

/** A stable uuid derived from text, so a user-assigned identity keeps its ids across requests. */
export function uuidFromText (text: string): string {
  const hex = createHash('sha256').update(text).digest('hex')
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-8${hex.slice(13, 16)}-a${hex.slice(17, 20)}-${hex.slice(20, 32)}`
}

export function createPrincipals (): Principals {
  const system: Principal = { clientId: randomUUID(), principalId: randomUUID() }
  return {
    system,
    select ({ clientId, principalId, resourceId }) {
      if (clientId) return { clientId, principalId: uuidFromText(`principal:${clientId.toLowerCase()}`) }
      if (principalId) return { clientId: uuidFromText(`client:${principalId.toLowerCase()}`), principalId }
      if (resourceId) {
        const id = resourceId.toLowerCase()
        return { clientId: uuidFromText(`client:${id}`), principalId: uuidFromText(`principal:${id}`) }
      }
      return system
    }
  }
}
