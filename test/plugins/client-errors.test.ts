import type { Socket } from 'node:net'
import t from 'tap'
import { clientErrorHandler } from '../../src/plugins/client-errors.js'

function fakeSocket (state: { destroyed?: boolean; writable?: boolean } = {}) {
  const written: string[] = []
  let destroyed = state.destroyed ?? false
  const socket = {
    get destroyed () {
      return destroyed
    },
    writable: state.writable ?? true,
    write: (data: string) => written.push(data),
    destroy: () => {
      destroyed = true
    }
  }
  return { socket: socket as unknown as Socket, written, isDestroyed: () => destroyed }
}

const error = (code: string) => Object.assign(new Error(code), { code })

t.test("errors from Node's HTTP parser answer in the ErrorResponse shape and close the socket", async (t) => {
  for (const [code, status, catalogue] of <Array<[string, string, string]>>[
    ['HPE_HEADER_OVERFLOW', '431 Request Header Fields Too Large', 'HEADERS_TOO_LARGE'],
    ['ERR_HTTP_REQUEST_TIMEOUT', '408 Request Timeout', 'REQUEST_TIMEOUT'],
    ['HPE_INVALID_METHOD', '400 Bad Request', 'INVALID_REQUEST']
  ]) {
    const { socket, written, isDestroyed } = fakeSocket()
    clientErrorHandler(error(code), socket)
    t.match(written[0], new RegExp(`^HTTP/1\\.1 ${status}\\r\\n`), code)
    const body = JSON.parse(written[0]?.split('\r\n\r\n')[1] ?? '') as { error: { code: string } }
    t.equal(body.error.code, catalogue, code)
    t.ok(isDestroyed())
  }
})

t.test('a reset or already destroyed socket gets nothing written', async (t) => {
  const reset = fakeSocket()
  clientErrorHandler(error('ECONNRESET'), reset.socket)
  t.same(reset.written, [])
  const gone = fakeSocket({ destroyed: true })
  clientErrorHandler(error('HPE_INVALID_METHOD'), gone.socket)
  t.same(gone.written, [])
  const unwritable = fakeSocket({ writable: false })
  clientErrorHandler(error('HPE_INVALID_METHOD'), unwritable.socket)
  t.same(unwritable.written, [])
  t.ok(unwritable.isDestroyed())
})
