import { ArmError } from './arm-errors.js'
import { MANAGEMENT_AUDIENCES } from './token-authority.js'
import type { TokenAuthority } from './token-authority.js'

function unauthorized (code: string, message: string): ArmError {
  const challenge = `Bearer authorization_uri="https://login.windows.net/", error="invalid_token", error_description="${message.replaceAll('"', "'")}"`
  return new ArmError(401, code, message, { 'www-authenticate': challenge })
}

/** Checks the bearer token as ARM's front door does and returns the caller's principal id. */
export async function authenticateArmRequest (
  authorization: string | undefined,
  tokens: TokenAuthority
): Promise<string> {
  if (!authorization) {
    throw unauthorized('AuthenticationFailed', "Authentication failed. The 'Authorization' header is missing.")
  }
  const match = /^Bearer\s+(\S+)$/i.exec(authorization)
  if (!match?.[1]) {
    throw unauthorized(
      'AuthenticationFailed',
      "Authentication failed. The 'Authorization' header is provided in an invalid format."
    )
  }
  const check = await tokens.verify(match[1])
  if (check.ok) return check.principalId
  switch (check.reason) {
    case 'expired':
      throw unauthorized(
        'ExpiredAuthenticationToken',
        `The access token expiry UTC time '${new Date(check.expiredAt * 1000).toISOString()}' ` +
          'is earlier than current UTC time.'
      )
    case 'audience':
      throw unauthorized(
        'InvalidAuthenticationTokenAudience',
        `The access token has been obtained for wrong audience or resource '${check.audience}'. ` +
          `It should exactly match with one of the allowed audiences '${MANAGEMENT_AUDIENCES.join("','")}'.`
      )
    case 'invalid':
      throw unauthorized('InvalidAuthenticationToken', 'The access token is invalid.')
  }
}
