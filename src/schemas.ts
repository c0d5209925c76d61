import { Type, type TSchema } from 'typebox'
import { brokerError, errors, type ErrorCode } from './errors.js'
import { ID_PATTERN, SCOPES, type Scope } from './scope.js'

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

/** What a catalogue message's %s stands for, in the documentation. */
const PLACEHOLDERS: Partial<Record<ErrorCode, string>> = {
  MISSING_ID: '{scope}',
  INVALID_BATCH: '{problem}',
  INVALID_EMBED_OPTION: '{option}'
}

function catalogueMessage (code: ErrorCode): string {
  return brokerError(code).message.replace('%s', PLACEHOLDERS[code] as string)
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

/** The account a token is of, once Accounts_Get has told its id and location. */
export const AccountObject = Type.Object(
  {
    alias: Type.String({ description: "The account's alias in the broker (default without ACCOUNTS_FILE)" }),
    accountName: Type.String({ description: 'Its ARM resource name' }),
    accountId: Type.String({ description: 'Its Video Indexer account id (properties.accountId), for embed URLs' }),
    location: Type.String({ description: 'Its region in lower case, as the widgets take it (e.g. northeurope)' })
  },
  { description: 'The account, once the broker has read it from Azure (absent until then)' }
)

const EMBED_EXAMPLE_BASE = 'https://www.videoindexer.ai/embed'
const EXAMPLE_ACCOUNT = {
  alias: 'default',
  accountName: 'contosto-azurevideoindexer',
  accountId: '462af7c5-d1f6-4b91-86e3-8bc5e8a61574',
  location: 'northeurope'
}

/** The fields of a token answer: a token route's body, and a batch item's besides its status. */
const TOKEN_FIELDS = {
  accessToken: Type.String({
    description: 'Restricted viewer access token for Video Indexer (a JWT, about 1 hour of life)'
  }),
  scope: Type.Enum(['Account', 'Project', 'Video'], { description: "ARM's name of the token's scope" }),
  videoId: Type.Optional(Type.String({ description: 'Present for Video scope' })),
  projectId: Type.Optional(Type.String({ description: 'Present for Project scope' })),
  accountName: Type.String({ description: 'The Video Indexer account (its ARM resource name)' }),
  expiresOn: Type.String({ format: 'date-time', description: 'When the token expires (ISO-8601, UTC)' }),
  account: Type.Optional(AccountObject),
  embed: Type.Optional(
    Type.Object(
      {
        player: Type.String({ description: 'The player widget URL, with the token and location' }),
        insights: Type.String({ description: 'The insights widget URL, with the token and location' })
      },
      { description: 'Video scope, once the account is read: the widget URLs (VI_WEB_BASE_URL/embed/...)' }
    )
  )
}

const NO_STORE_HEADER = {
  'cache-control': {
    type: 'string',
    examples: ['no-store'],
    description: 'Tokens must not be stored by intermediaries'
  }
}

/** An example token answer of one scope. */
function tokenExample (scope: Scope) {
  const { scope: armScope, ...ids } = TOKEN_EXAMPLES[scope]
  const claims = Buffer.from(JSON.stringify({ Scope: armScope })).toString('base64url')
  return {
    accessToken: `eyJ0eXAiOiJKV1QiLCJhbGciOiJSUzI1NiJ9.${claims}.c2lnbmF0dXJl`,
    scope: armScope,
    ...ids,
    accountName: 'contosto-azurevideoindexer',
    expiresOn: '2026-11-27T13:00:00.000Z',
    account: EXAMPLE_ACCOUNT,
    ...(scope === 'video'
      ? {
          embed: Object.fromEntries(
            ['player', 'insights'].map((widget) => [
              widget,
              `${EMBED_EXAMPLE_BASE}/${widget}/${EXAMPLE_ACCOUNT.accountId}/07ec9e38d4/` +
                '?accessToken=eyJ0eXAi...&location=northeurope'
            ])
          )
        }
      : {})
  }
}

/** The 200 answer of a token route, with an example of that route's own scope. */
export function tokenResponse (scope: Scope): TSchema {
  return Type.Object(TOKEN_FIELDS, {
    description: 'The token. It always has at least TOKEN_MIN_REMAINING_SECONDS (300 s by default) of life left',
    headers: { ...REQUEST_ID_HEADER, ...NO_STORE_HEADER },
    examples: [tokenExample(scope)]
  })
}

/** The body of POST /tokens/batch, as documented; src/batch.ts reads it and names a bad item. */
export function batchRequest (maxItems: number): TSchema {
  const item = Type.Object(
    {
      scope: Type.Enum([...SCOPES]),
      id: Type.Optional(Type.String({ pattern: ID_PATTERN, description: 'The video or project id; none for account' }))
    },
    { additionalProperties: false }
  )
  return Type.Object(
    { requests: Type.Array(item, { minItems: 1, maxItems, description: `1 to ${maxItems} (BATCH_MAX_ITEMS)` }) },
    {
      additionalProperties: false,
      examples: [{ requests: [{ scope: 'video', id: '07ec9e38d4' }, { scope: 'project', id: '07ec9e38d4' }] }]
    }
  )
}

/** The 200 answer of a batch: each item as its own request would have been answered, in request order. */
export function batchResponse (itemCodes: ErrorCode[]): TSchema {
  const issued = Type.Object({ status: Type.Literal(200), ...TOKEN_FIELDS }, { title: 'BatchToken' })
  const refused = Type.Object(
    {
      status: Type.Integer({
        minimum: 400,
        maximum: 599,
        description: "The status the item's own request would have had"
      }),
      error: Type.Object({
        code: Type.Enum(itemCodes, { description: `A code from the error catalogue: ${itemCodes.join(', ')}` }),
        message: Type.String(),
        details: Type.Optional(Type.Array(ErrorDetail))
      }),
      retryAfterSeconds: Type.Optional(
        Type.Integer({ description: 'For 429 and 503 items: what the Retry-After header would have said' })
      )
    },
    { title: 'BatchError' }
  )
  return Type.Object(
    {
      batchId: Type.String({ format: 'uuid', description: "The batchId of this batch's audit records" }),
      results: Type.Array(Type.Union([issued, refused]), { description: 'One per request, in request order' })
    },
    {
      description: 'Every item answered, each with its own status; a 200 says only that the batch was read',
      headers: { ...REQUEST_ID_HEADER, ...NO_STORE_HEADER },
      examples: [
        {
          batchId: '3b241101-e2bb-4255-8caf-4136c566a962',
          results: [
            { status: 200, ...tokenExample('video') },
            { status: 403, error: { code: 'POLICY_DENIED', message: catalogueMessage('POLICY_DENIED') } }
          ]
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

/** The answer of an embed route: one widget URL. */
export const EmbedResponse = Type.Object(
  {
    url: Type.String({ description: 'The widget URL: token, location and the options given' }),
    expiresOn: Type.String({ format: 'date-time', description: "When the URL's token expires" }),
    videoId: Type.String(),
    account: AccountObject
  },
  {
    description: 'The widget URL, for an iframe',
    headers: { ...REQUEST_ID_HEADER, ...NO_STORE_HEADER }
  }
)

/** An account alias in a path; its letters are taken in lower case. */
export const ALIAS_PARAM = Type.String({
  examples: ['eu-prod'],
  description: 'An account alias from the ACCOUNTS_FILE (^[a-z0-9][a-z0-9-]{0,62}$)'
})

export const UNKNOWN_ACCOUNT_RESPONSE = errorResponse(['UNKNOWN_ACCOUNT'], 'No account of the broker has this alias')

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
