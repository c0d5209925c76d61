import { isIPv6 } from 'node:net'

/** The host as clients should dial it: wildcard binds become loopback, IPv6 literals get brackets. */
export function urlHost (host: string): string {
  if (host === '0.0.0.0') return '127.0.0.1'
  if (host === '::') return '[::1]'
  return isIPv6(host) ? `[${host}]` : host
}
