/** The three token scopes, as the broker's URLs name them and as ARM names them. */
export const SCOPES = ['account', 'project', 'video'] as const
export type Scope = (typeof SCOPES)[number]

export const ARM_SCOPE_NAMES: Record<Scope, 'Account' | 'Project' | 'Video'> = {
  account: 'Account',
  project: 'Project',
  video: 'Video'
}

/** Project and video ids, as the HTTP API accepts them. */
export const ID_PATTERN = '^[A-Za-z0-9_-]{1,64}$'

/** The longest caller id accepted, in a token claim or a policy file. */
export const MAX_CALLER_ID_LENGTH = 256
