import { randomUUID } from 'node:crypto'
import type { FastifyError, FastifyInstance, FastifyReply } from 'fastify'
import { decodeJwt } from 'jose'
import type { Counters } from './counters.js'
import type { Faults } from './faults.js'
import type { Principals } from './principals.js'
import type { TokenAuthority } from './token-authority.js'

export interface EntraRoutesOptions {
  tokens: TokenAuthority
  principals: Principals
  counters: Counters
  faults: Faults
  now: () => number
}

const JWT_BEARER = 'urn:ietf:params:oauth:client-assertion-type:jwt-bearer'
const OIDC_SCOPES = new Set(['openid', 'profile', 'offline_access'])

type Form = Record<string, string | undefined>

class EntraError extends Error {
  constructor (
    readonly error: string,
    readonly aadsts: number,
    message: string,
    readonly statusCode = error === 'invalid_client' ? 401 : 400
  ) {
    super(message)
  }
}

const missing = (name: string) =>
  new EntraError('invalid_request', 900144, `The request body must contain the following parameter: '${name}'.`)

/** Checks a client-credentials request with a federated client assertion; returns client id and resource. */
function readTokenRequest (form: Form, nowMs: number): { clientId: string; resource: string } {
  const { grant_type: grantType, client_id: clientId, scope, client_assertion: assertion } = form
  if (!grantType) throw missing('grant_type')
  if (grantType !== 'client_credentials') {
    throw new EntraError('unsupported_grant_type', 70003, `The app requested an unsupported grant type '${grantType}'.`)
  }
  if (!clientId) throw missing('client_id')
  if (!scope) throw missing('scope')
  const scopes = scope.split(/\s+/).filter((item) => item !== '' && !OIDC_SCOPES.has(item))
  const [only] = scopes
  if (scopes.length !== 1 || !only?.endsWith('/.default')) {
    throw new EntraError(
      'invalid_scope',
      1002012,
      `The provided value for scope ${scope} is not valid. ` +
        'Client credential flows must have a scope value with /.default suffixed to the resource identifier ' +
        '(application ID URI).'
    )
  }
  if (!assertion) {
    throw new EntraError(
      'invalid_client',
      7000218,
      "The request body must contain the following parameter: 'client_assertion' or 'client_secret'."
    )
  }
  if (form.client_assertion_type !== JWT_BEARER) {
    throw new EntraError('invalid_request', 50027, `The client_assertion_type must be '${JWT_BEARER}'.`)
  }
  let exp: number | undefined
  try {
    exp = decodeJwt(assertion).exp
  } catch {
    throw new EntraError('invalid_client', 50027, 'JWT token is invalid or malformed.')
  }
  if (exp !== undefined && exp * 1000 <= nowMs) {
    throw new EntraError('invalid_client', 700024, 'Client assertion is not within its valid time range.')
  }
  return { clientId, resource: only.slice(0, -'/.default'.length) }
}

/**
 * A Microsoft Entra authority's v2.0 token endpoint for WorkloadIdentityCredential, which accepts any
 * well-formed, unexpired federated assertion (its signature is not checked). The OIDC metadata and keys
 * are in jwks-routes.ts.
 */
export async function entraRoutes (app: FastifyInstance, options: EntraRoutesOptions): Promise<void> {
  const { tokens, principals, counters, faults, now } = options

  function sendEntraError (reply: FastifyReply, error: EntraError) {
    const traceId = randomUUID()
    const correlationId = randomUUID()
    const timestamp = new Date(now()).toISOString()
    return reply.code(error.statusCode).send({
      error: error.error,
      error_description:
        `AADSTS${error.aadsts}: ${error.message} ` +
        `Trace ID: ${traceId} Correlation ID: ${correlationId} Timestamp: ${timestamp}`,
      error_codes: [error.aadsts],
      timestamp,
      trace_id: traceId,
      correlation_id: correlationId
    })
  }

  app.removeAllContentTypeParsers()
  app.addContentTypeParser('application/x-www-form-urlencoded', { parseAs: 'string' }, (_request, body, done) =>
    done(null, Object.fromEntries(new URLSearchParams(body as string)))
  )
  app.setErrorHandler<FastifyError | EntraError>((error, _request, reply) => {
    if (error instanceof EntraError) return sendEntraError(reply, error)
    /* c8 ignore next -- besides EntraErrors only Fastify's body errors, which carry a status, reach this handler */
    return sendEntraError(reply, new EntraError('invalid_request', 900144, error.message, error.statusCode ?? 500))
  })

  app.post<{ Body: Form | undefined }>(
    '/:tenantId/oauth2/v2.0/token',
    { onRequest: [async () => counters.identityRequest(), faults.hook('identity')] },
    async (request) => {
      const { clientId, resource } = readTokenRequest(request.body ?? {}, now())
      const issued = await tokens.issue(resource, principals.select({ clientId }))
      const expiresIn = issued.expiresOn - Math.floor(now() / 1000)
      return {
        token_type: 'Bearer',
        expires_in: expiresIn,
        ext_expires_in: expiresIn,
        access_token: issued.accessToken
      }
    }
  )
}
