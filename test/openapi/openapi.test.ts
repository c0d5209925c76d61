import { readFile } from 'node:fs/promises'
import SwaggerParser from '@apidevtools/swagger-parser'
import t from 'tap'
import { buildOpenApiApp } from '../../scripts/openapi-app.js'
import { brokerError, errors, type ErrorCode } from '../../src/errors.js'

const app = await buildOpenApiApp()
t.teardown(() => app.close())
const generated = app.swagger() as Record<string, any>

t.test('the committed openapi/openapi.json matches what the code produces (run `npm run openapi`)', async (t) => {
  const committed = JSON.parse(await readFile(new URL('../../openapi/openapi.json', import.meta.url), 'utf8'))
  t.same(committed, JSON.parse(JSON.stringify(generated)))
})

t.test('the document is valid OpenAPI', async (t) => {
  const api = await SwaggerParser.validate(structuredClone(generated) as never)
  t.equal((api as { openapi?: string }).openapi, '3.1.0')
})

t.test('the documented error codes and the catalogue agree, in both directions', async (t) => {
  const catalogue = Object.keys(errors).sort()
  t.same([...generated.components.schemas.ErrorCode.enum].sort(), catalogue, 'ErrorCode lists exactly the catalogue')
  const operations = Object.entries(generated.paths as Record<string, Record<string, any>>).flatMap(([path, methods]) =>
    Object.entries(methods).map(([method, operation]) => [`${method.toUpperCase()} ${path}`, operation] as const)
  )
  for (const [path, operation] of operations) {
    for (const [status, response] of Object.entries(operation.responses as Record<string, any>)) {
      const codes: string[] | undefined =
        response.content?.['application/json']?.schema?.properties?.error?.properties?.code?.enum
      if (status === '200') continue
      t.ok(codes && codes.length > 0, `${path} ${status} lists its codes`)
      for (const code of codes ?? []) {
        t.ok(catalogue.includes(code), `${path} ${status}: ${code} is in the catalogue`)
        t.equal(String(brokerError(code as ErrorCode).statusCode), status, `${path}: ${code} is a ${status}`)
      }
    }
  }
})

t.test('the document describes security, headers, tags and examples', async (t) => {
  t.equal(
    generated.info.version,
    JSON.parse(await readFile(new URL('../../package.json', import.meta.url), 'utf8')).version
  )
  t.match(generated.components.securitySchemes.bearerAuth, { type: 'http', scheme: 'bearer', bearerFormat: 'JWT' })
  const video = generated.paths['/tokens/video/{videoId}'].get
  t.same(video.security, [{ bearerAuth: [] }])
  t.same(Object.keys(video.responses).sort(), ['200', '400', '401', '403', '429', '502', '503', '504'])
  t.ok(video.responses['503'].headers['retry-after'])
  t.ok(video.responses['200'].headers['x-request-id'])
  t.equal(video.parameters[0].example, '07ec9e38d4')
  t.same(generated.paths['/healthz'].get.tags, ['health'])
  t.notOk(generated.paths['/healthz'].get.security, 'health needs no authentication')
  t.same(Object.keys(generated.paths['/tokens/account'].get.responses).sort(), [
    '200',
    '401',
    '403',
    '429',
    '502',
    '503',
    '504'
  ])
  t.ok(video.responses['429'].headers['retry-after'])
})

t.test("a token route's 200 example is of that route's scope; parameters and tags are described", async (t) => {
  const paths = generated.paths as Record<string, Record<string, any>>
  const scopes: Record<string, string> = {
    '/tokens/account': 'Account',
    '/tokens/project/{projectId}': 'Project',
    '/tokens/video/{videoId}': 'Video'
  }
  for (const [path, scope] of Object.entries(scopes)) {
    const example = paths[path]?.get.responses['200'].content['application/json'].example
    t.equal(example.scope, scope, `${path}: the example's scope`)
    const claims = JSON.parse(Buffer.from(example.accessToken.split('.')[1], 'base64url').toString())
    t.equal(claims.Scope, scope, `${path}: the example token's own Scope claim`)
    t.equal('videoId' in example, scope === 'Video', `${path}: videoId only for Video`)
    t.equal('projectId' in example, scope === 'Project', `${path}: projectId only for Project`)
  }
  for (const [path, methods] of Object.entries(paths)) {
    for (const operation of Object.values(methods)) {
      for (const parameter of operation.parameters ?? []) {
        if (parameter.in !== 'path') continue
        t.ok(parameter.description, `${path}: path parameter ${parameter.name} is described`)
      }
    }
  }
  const used = new Set(Object.values(paths).flatMap((methods) => Object.values(methods).flatMap((o) => o.tags ?? [])))
  const tags = generated.tags as Array<{ name: string; description?: string }>
  const described = new Map(tags.map((tag) => [tag.name, tag]))
  for (const tag of used) t.ok(described.get(tag)?.description, `tag ${tag} is described`)
})
