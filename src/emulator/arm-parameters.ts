import { ArmError } from './arm-errors.js'
import type { RestrictedViewerParameters, ViewerScope } from './avi-tokens.js'

export const SUPPORTED_API_VERSIONS: readonly string[] = ['2024-01-01', '2025-01-01', '2025-03-01', '2025-04-01']

const SCOPES: readonly ViewerScope[] = ['Video', 'Account', 'Project']

export function requireApiVersion (apiVersion: unknown): void {
  if (apiVersion === undefined || apiVersion === '') {
    throw new ArmError(
      400,
      'MissingApiVersionParameter',
      'The api-version query parameter (?api-version=) is required for all requests.'
    )
  }
  if (typeof apiVersion !== 'string' || !SUPPORTED_API_VERSIONS.includes(apiVersion)) {
    throw new ArmError(
      400,
      'InvalidApiVersionParameter',
      `The api-version '${String(apiVersion)}' is invalid. ` +
        `The supported versions are '${SUPPORTED_API_VERSIONS.join(',')}'.`
    )
  }
}

const invalidInput = (message: string) => new ArmError(400, 'InvalidInput', message)

/**
 * Reads a GenerateRestrictedViewerAccessTokenParameters body. The raw body comes unparsed, so that
 * media-type and JSON errors get ARM's codes rather than Fastify's.
 */
export function parseRestrictedViewerParameters (
  contentType: string | undefined,
  rawBody: string | undefined
): RestrictedViewerParameters {
  let body: unknown = {}
  if (rawBody !== undefined && rawBody.trim() !== '') {
    const mediaType = (contentType ?? '').split(';')[0]!.trim().toLowerCase()
    if (mediaType !== 'application/json' && !mediaType.endsWith('+json')) {
      throw new ArmError(
        415,
        'UnsupportedMediaType',
        `The content media type '${mediaType}' is not supported. Only 'application/json' is supported.`
      )
    }
    try {
      body = JSON.parse(rawBody)
    } catch (error) {
      throw new ArmError(
        400,
        'InvalidRequestContent',
        `The request content was invalid and could not be deserialized: '${(error as Error).message}'.`
      )
    }
  }
  if (typeof body !== 'object' || body === null || Array.isArray(body)) {
    throw invalidInput('The request body must be a JSON object.')
  }
  const { scope, videoId, projectId } = body as Record<string, unknown>
  if (!SCOPES.includes(scope as ViewerScope)) {
    throw invalidInput(`The 'scope' property is required and must be one of '${SCOPES.join("', '")}'.`)
  }
  for (const [name, value] of [
    ['videoId', videoId],
    ['projectId', projectId]
  ] as const) {
    if (value !== undefined && (typeof value !== 'string' || value === '')) {
      throw invalidInput(`The '${name}' property must be a non-empty string.`)
    }
  }
  if (scope === 'Video' && videoId === undefined) {
    throw invalidInput("The 'videoId' property is required when scope is 'Video'.")
  }
  if (scope === 'Project' && projectId === undefined) {
    throw invalidInput("The 'projectId' property is required when scope is 'Project'.")
  }
  const parameters: RestrictedViewerParameters = { scope: scope as ViewerScope }
  if (typeof videoId === 'string') parameters.videoId = videoId
  if (typeof projectId === 'string') parameters.projectId = projectId
  return parameters
}
