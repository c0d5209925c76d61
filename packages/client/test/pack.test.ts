// `npm pack --workspace packages/client` makes a package that installs into an empty folder, imports and type-checks.
import { execFile } from 'node:child_process'
import { mkdir, mkdtemp, readdir, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { promisify } from 'node:util'
import t from 'tap'

const run = promisify(execFile)
const ROOT = fileURLToPath(new URL('../../../', import.meta.url))
// Children are not measured: the packed dist/ is not this suite's source.
const env = { ...process.env, _TAPJS_PROCESSINFO_COVERAGE_: '0' }

const folder = await mkdtemp(join(tmpdir(), 'vi-token-broker-client-pack-'))
t.teardown(() => rm(folder, { recursive: true, force: true }))

t.test('the packed package installs into an empty folder, imports and type-checks', async (t) => {
  const pack = ['pack', '--workspace', 'packages/client', '--pack-destination', folder, '--silent']
  await run('npm', pack, { cwd: ROOT, env })
  const [tarball] = (await readdir(folder)).filter((name) => name.endsWith('.tgz'))
  t.match(tarball, /^vi-token-broker-client-\d+\.\d+\.\d+\.tgz$/)
  const app = join(folder, 'app')
  await mkdir(app)
  await writeFile(join(app, 'package.json'), JSON.stringify({ name: 'app', private: true, type: 'module' }))
  const install = ['install', '--offline', '--no-audit', '--no-fund', join(folder, tarball as string)]
  await run('npm', install, { cwd: app, env })

  const installed = await readdir(join(app, 'node_modules', '@vi-token-broker', 'client', 'dist'))
  t.ok(installed.includes('index.js') && installed.includes('index.d.ts'), 'JavaScript and declarations')
  t.notOk(installed.some((name) => name.endsWith('.ts') && !name.endsWith('.d.ts')), 'no TypeScript sources')

  const script = [
    "import { BrokerError, createBrokerClient } from '@vi-token-broker/client'",
    "const broker = createBrokerClient({ baseUrl: 'http://127.0.0.1:9', credential: () => 'jwt' })",
    "const error = await broker.videoToken('v1').catch((error) => error)",
    'const seen = { client: typeof broker.embedUrl, error: error instanceof BrokerError, code: error.code }',
    'console.log(JSON.stringify(seen))'
  ].join('\n')
  const { stdout } = await run(process.execPath, ['--input-type=module', '-e', script], { cwd: app, env })
  t.same(JSON.parse(stdout), { client: 'function', error: true, code: 'BROKER_UNREACHABLE' })

  await writeFile(join(app, 'consumer.ts'), [
    "import { createBrokerClient, type TokenResponse } from '@vi-token-broker/client'",
    "const broker = createBrokerClient({ baseUrl: 'http://broker', credential: async () => 'jwt' })",
    "export const token: Promise<TokenResponse> = broker.videoToken('v1', { account: 'eu-prod' })",
    "export const url: Promise<string> = broker.embedUrl('player', 'v1', { t: 30 }).then((embed) => embed.url)"
  ].join('\n'))
  const tsc = join(ROOT, 'node_modules', 'typescript', 'bin', 'tsc')
  const compilerOptions = { noEmit: true, strict: true, module: 'nodenext', lib: ['es2022', 'dom'], types: [] }
  await writeFile(join(app, 'tsconfig.json'), JSON.stringify({ compilerOptions, files: ['consumer.ts'] }))
  await run(process.execPath, [tsc, '-p', app], { cwd: app, env })
  t.pass('a strict TypeScript consumer compiles against the declarations')
})
