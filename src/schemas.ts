import { Type } from 'typebox'
import { ID_PATTERN } from './scope.js'

export const ErrorResponse = Type.Object(
  {
    error: Type.Object({
      code: Type.String({ description: 'Stable error code from the catalogue' }),
      message: Type.String(),
      details: Type.Optional(
        Type.Array(Type.Object({ code: Type.String(), message: Type.String() }), {
          description: 'Safe upstream facts, such as the error code ARM answered with'
        })
      )
    })
  },
  { $id: 'ErrorResponse', description: 'The ErrorResponse shape of the ARM spec' }
)

export const TokenResponse = Type.Object(
  {
    accessToken: Type.String({ description: 'Restricted viewer access token for Video Indexer' }),
    scope: Type.Enum(['Account', 'Project', 'Video']),
    videoId: Type.Optional(Type.String()),
    projectId: Type.Optional(Type.String()),
    accountName: Type.String(),
    expiresOn: Type.String({ format: 'date-time', description: 'When the token expires (ISO-8601, UTC)' })
  },
  { $id: 'TokenResponse' }
)

export const IdParam = Type.String({ pattern: ID_PATTERN, examples: ['07ec9e38d4'] })

export const HealthResponse = Type.Object({ status: Type.String() }, { $id: 'HealthResponse' })
