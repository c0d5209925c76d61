// `npm run token`: Entra-shaped caller tokens from the running emulator, of either version and with app roles.
import { execFile } from 'node:child_process'
import { fileURLToPath } from 'node:url'
import { decodeJwt, decodeProtectedHeader } from 'jose'
import t from 'tap'
import { emulatorFor } from '../helper.js'

const script = fileURLToPath(new URL('../../scripts/token.ts', import.meta.url))
const emulator = await emulatorFor(t)

function token (...args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(
      process.execPath,
      ['--import', 'tsx', script, ...args],
      // The child is not measured: tsx's coverage of a file cannot be merged with tap's own.
      { env: { PATH: process.env.PATH, EMULATOR_ADMIN_URL: emulator.adminUrl, _TAPJS_PROCESSINFO_COVERAGE_: '0' } },
      (error, stdout, stderr) => resolve({ code: error === null ? 0 : Number(error.code), stdout, stderr })
    )
  })
}

t.test('a v2.0 token by default', async (t) => {
  const { code, stdout } = await token('portal-bff')
  t.equal(code, 0)
  t.match(decodeJwt(stdout.trim()), { azp: 'portal-bff', ver: '2.0', iss: emulator.issuer, aud: emulator.audience })
  t.notOk('roles' in decodeJwt(stdout.trim()))
})

t.test('--version 1 and --role, repeated', async (t) => {
  const roles = ['--role', 'Tokens.Video', '--role', 'Tokens.Project']
  const { code, stdout } = await token('reports-bff', '--version', '1', ...roles)
  t.equal(code, 0)
  const jwt = stdout.trim()
  t.match(decodeJwt(jwt), {
    appid: 'reports-bff',
    ver: '1.0',
    iss: emulator.v1Issuer,
    aud: emulator.brokerApplicationIdUri,
    roles: ['Tokens.Video', 'Tokens.Project']
  })
  t.ok(decodeProtectedHeader(jwt).x5t)
})

t.test('bad arguments exit 2 with the usage', async (t) => {
  for (const args of [[], ['--version', '3', 'portal-bff'], ['a', 'b'], ['portal-bff', '--scope', 'x']]) {
    const { code, stderr } = await token(...args)
    t.equal(code, 2, JSON.stringify(args))
    t.match(stderr, /usage: npm run token -- <caller>/)
  }
})
