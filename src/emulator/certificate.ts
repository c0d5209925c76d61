import { isIP } from 'node:net'
import { generate } from 'selfsigned'

export interface Certificate {
  certPem: string
  keyPem: string
}

const VALIDITY_MS = 365 * 24 * 3600 * 1000
const CLOCK_SKEW_MS = 3600 * 1000

/**
 * A self-signed TLS certificate for the emulated ARM endpoint. It is its own trust anchor, so clients
 * pass it as `ca`. TLS checks use the wall clock, so this ignores the emulator's `now` option.
 */
export async function createCertificate (hosts: readonly string[]): Promise<Certificate> {
  if (hosts.length === 0) throw new TypeError('certificate needs at least one host')
  const notBeforeDate = new Date(Date.now() - CLOCK_SKEW_MS)
  const pems = await generate([{ name: 'commonName', value: hosts[0] }], {
    keySize: 2048,
    algorithm: 'sha256',
    notBeforeDate,
    notAfterDate: new Date(notBeforeDate.getTime() + VALIDITY_MS),
    extensions: [
      { name: 'basicConstraints', cA: true, critical: true },
      { name: 'keyUsage', digitalSignature: true, keyEncipherment: true, keyCertSign: true, critical: true },
      { name: 'extKeyUsage', serverAuth: true },
      {
        name: 'subjectAltName',
        altNames: hosts.map((host) => (isIP(host) ? { type: 7, ip: host } : { type: 2, value: host }))
      }
    ]
  })
  return { certPem: pems.cert, keyPem: pems.private }
}
