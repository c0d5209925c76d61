import { Type, type TSchema } from 'typebox'
import { brokerError, errors, type ErrorCode } from './errors.js'
import { ID_PATTERN, type Scope } from './scope.js'

const ErrorDetail = Type.Object({ code: Type.String(), message: Type.String() })

const REQUEST_ID_HEADER = {
  'x-request-id': {
    type: 'string',
    description: 'The request id, for tracing; echoes a well-formed incoming x-request-id'
  }
}
const RETRY_AFTER_HEADER = { 'retry-after': { type: 'integer', description: 'Seconds to wait before retrying' } }
const WWW_AUTHENTICATE_HEADER = { 'www-authenticate': { type: 'string', examples: ['Bearer error="invalid_token"'] } }

/** The ErrorResponse shape of the ARM spec, narrowed to the codes one status can carry. */
export function errorResponse (codes: ErrorCode[], description: string): TSchema {
  const status = brokerError(codes[0] as ErrorCode).statusCode
  const headers = {
    ...REQUEST_ID_HEADER,
    ...(status === 401 ? WWW_AUTHENTICATE_HEADER : {}),
    ...(status === 503 || status === 429 ? RETRY_AFTER_HEADER : {})
  }
  return Type.Object(
    {
      error: Type.Object({
        code: Type.Enum(codes, { description: 'A stable code from the error catalogue (see ErrorCode)' }),
        message: Type.String(),
        details: Type.Optional(
          Type.Array(ErrorDetail, { description: 'Safe upstream facts, such as the error code ARM answered with' })
        )
      })
    },
    {
      description: `${description}. Codes: ${codes.join(', ')}`,
      headers,
      examples: [{ error: { code: codes[0], message: catalogueMessage(codes[0] as ErrorCode) } }]
    }
  )
}

function catalogueMessage (code: ErrorCode): string {
  return brokerError(code).message.replace('%s', '{scope}')
}

/** Every code in the catalogue, with its status and message, for the OpenAPI components. */
export function errorCodeSchema (): Record<string, unknown> {
  const entries = (Object.keys(errors) as ErrorCode[]).map(
    (code) => `- \`${code}\` (${brokerError(code).statusCode}): ${catalogueMessage(code)}`
  )
  return {
    type: 'string',
    enum: Object.keys(errors),
    description: `The error catalogue. Every error body carries one of these codes.\n\n${entries.join('\n')}`
  }
}

const TOKEN_EXAMPLES: Record<Scope, Record<string, string>> = {
  account: { scope: 'Account' },
  project: { scope: 'Project', projectId: '07ec9e38d4' },
  video: { scope: 'Video', videoId: '07ec9e38d4' }
}

/** The 200 answer of a token route, with an example of that route's own scope. */
export function tokenResponse (scope: Scope): TSchema {
  const { scope: armScope, ...ids } = TOKEN_EXAMPLES[scope]
  const claims = Buffer.from(JSON.stringify({ Scope: armScope })).toString('base64url')
  return Type.Object(
    {
      accessToken: Type.String({
        description: 'Restricted viewer access token for Video Indexer (a JWT, about 1 hour of life)'
      }),
      scope: Type.Enum(['Account', 'Project', 'Video'], { description: "ARM's name of the token's scope" }),
      videoId: Type.Optional(Type.String({ description: 'Present for Video scope' })),
      projectId: Type.Optional(Type.String({ description: 'Present for Project scope' })),
      accountName: Type.String({ description: 'The Video Indexer account (its ARM resource name)' }),
      expiresOn: Type.String({ format: 'date-time', description: 'When the token expires (ISO-8601, UTC)' })
    },
    {
      description: 'The token. It always has at least TOKEN_MIN_REMAINING_SECONDS (300 s by default) of life left',
      headers: {
        ...REQUEST_ID_HEADER,
        'cache-control': {
          type: 'string',
          examples: ['no-store'],
          description: 'Tokens must not be stored by intermediaries'
        }
      },
      examples: [
        {
          accessToken: `eyJ0eXAiOiJKV1QiLCJhbGciOiJSUzI1NiJ9.${claims}.c2lnbmF0dXJl`,
          scope: armScope,
          ...ids,
          accountName: 'contosto-azurevideoindexer',
          expiresOn: '2026-11-27T13:00:00.000Z'
        }
      ]
    }
  )
}

/** A project or video id in a path. */
export function idParam (of: 'project' | 'video') {
  return Type.String({
    pattern: ID_PATTERN,
    examples: ['07ec9e38d4'],
    description: of === 'video' ? 'The Video Indexer video id' : 'The Video Indexer project id'
  })
}

export const HealthResponse = Type.Object(
  { status: Type.String() },
  { description: 'Healthy', headers: REQUEST_ID_HEADER }
)

/** Every authenticated route needs the caller's bearer JWT. */
export const BEARER_SECURITY = [{ bearerAuth: [] }]

export const UNAUTHENTICATED_RESPONSE = errorResponse(
  ['AUTH_REQUIRED', 'AUTH_INVALID', 'AUTH_EXPIRED', 'AUTH_NO_CALLER'],
  'No valid caller JWT'
)

export const INVALID_ID_RESPONSE = errorResponse(
  ['INVALID_ID'],
  'The id does not match ^[A-Za-z0-9_-]{1,64}$; checked before the policy and ARM'
)
