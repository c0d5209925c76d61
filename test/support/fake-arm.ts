import {
  createHttpHeaders,
  type HttpClient,
  type PipelineRequest,
  type PipelineResponse
} from '@azure/core-rest-pipeline'
import type { AccessToken, TokenCredential } from '@azure/identity'

export interface FakeReply {
  status: number
  body?: unknown
  headers?: Record<string, string>
}

/** An in-process ARM transport for unit and route tests; integration tests use the emulator instead. */
export function fakeArm (
  respond: (request: PipelineRequest, body: Record<string, string>) => FakeReply | Promise<FakeReply>
) {
  const calls: Array<{ url: string; body: Record<string, string>; authorization: string | undefined }> = []
  const client: HttpClient = {
    async sendRequest (request): Promise<PipelineResponse> {
      // Accounts_Get (the broker reads each account at start) is answered here and not counted as a call.
      if (request.method === 'GET') return accountGet(request)
      const body = JSON.parse(String(request.body)) as Record<string, string>
      calls.push({ url: request.url, body, authorization: request.headers.get('authorization') })
      const reply = await respond(request, body)
      return {
        request,
        status: reply.status,
        headers: createHttpHeaders({ 'x-ms-request-id': `req-${calls.length}`, ...reply.headers }),
        bodyAsText:
          reply.body === undefined ? '' : typeof reply.body === 'string' ? reply.body : JSON.stringify(reply.body)
      }
    }
  }
  return { client, calls }
}

/** An Accounts_Get answer for whichever account is read (the ARM spec's ViAccountGet example's shape). */
export const FAKE_ACCOUNT = { accountId: '462af7c5-d1f6-4b91-86e3-8bc5e8a61574', location: 'NorthEurope' }

function accountGet (request: PipelineRequest): PipelineResponse {
  const name = new URL(request.url).pathname.split('/').at(-1)
  const body = { name, location: FAKE_ACCOUNT.location, properties: { accountId: FAKE_ACCOUNT.accountId } }
  return { request, status: 200, headers: createHttpHeaders(), bodyAsText: JSON.stringify(body) }
}

/** A credential that counts its calls; the real @azure/identity classes are exercised in integration tests. */
export function fakeCredential (token = 'fake-identity-token-0123456789') {
  const state = { calls: 0 }
  const credential: TokenCredential = {
    async getToken (): Promise<AccessToken> {
      state.calls++
      return { token, expiresOnTimestamp: Date.now() + 3600_000 }
    }
  }
  return { credential, state }
}
