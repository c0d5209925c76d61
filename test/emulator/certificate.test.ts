import { X509Certificate } from 'node:crypto'
import t from 'tap'
import { createCertificate } from '../../src/emulator/certificate.js'

t.test('names every host as a SAN, DNS or IP', async (t) => {
  const { certPem, keyPem } = await createCertificate(['localhost', '127.0.0.1', '::1', 'emulator'])
  const certificate = new X509Certificate(certPem)
  t.equal(certificate.subjectAltName, 'DNS:localhost, IP Address:127.0.0.1, IP Address:0:0:0:0:0:0:0:1, DNS:emulator')
  t.match(certificate.subject, 'CN=localhost')
  t.ok(certificate.checkIssued(certificate), 'self-signed')
  t.ok(certificate.ca, 'usable as its own trust anchor')
  t.ok(
    Date.parse(certificate.validFrom) < Date.now() && Date.parse(certificate.validTo) > Date.now() + 300 * 86_400_000
  )
  t.match(keyPem, /^-----BEGIN PRIVATE KEY-----/)
})

t.test('needs a host', async (t) => {
  await t.rejects(createCertificate([]), TypeError)
})
