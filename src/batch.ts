import { brokerError, type BrokerError } from './errors.js'
import { ID_PATTERN, SCOPES, type Scope } from './scope.js'

/** One token request of a batch: what a single token route's path would say. */
export interface BatchItem {
  scope: Scope
  id: string | undefined
}

// The longest compact item, {"scope":"project","id":"<64 characters>"}, is under 100 bytes: the rest of
// each item's share is for whitespace.
const ITEM_BYTES = 256
const ENVELOPE_BYTES = 1024

/** The body limit of POST /tokens/batch: room for maxItems requests, and no more. */
export function batchBodyLimit (maxItems: number): number {
  return ENVELOPE_BYTES + maxItems * ITEM_BYTES
}

// As the single routes' id parameter is checked (idParam's pattern; Ajv compiles patterns with the u flag).
const ID = new RegExp(ID_PATTERN, 'u')

/**
 * Reads a parsed batch body, `{"requests": [{"scope", "id"?}, …]}`, with between 1 and maxItems items.
 * Any fault refuses the whole batch, naming the first bad item by its index.
 */
export function parseBatch (body: unknown, maxItems: number): BatchItem[] {
  if (!isObject(body) || !Array.isArray(body.requests) || Object.keys(body).length !== 1) {
    throw invalid('the body must be {"requests": [...]}')
  }
  const { requests } = body
  if (requests.length === 0) throw invalid('"requests" is empty')
  if (requests.length > maxItems) throw invalid(`"requests" has ${requests.length} items; at most ${maxItems}`)
  return requests.map(parseItem)
}

function parseItem (item: unknown, index: number): BatchItem {
  const at = `requests[${index}]`
  if (!isObject(item)) throw invalid(`${at} must be an object`)
  if (Object.keys(item).some((key) => key !== 'scope' && key !== 'id')) {
    throw invalid(`${at} may have only "scope" and "id"`)
  }
  const { scope, id } = item
  if (!SCOPES.includes(scope as Scope)) throw invalid(`${at}.scope must be account, project or video`)
  if (scope === 'account') {
    if (id !== undefined) throw invalid(`${at}: Account scope takes no id`)
    return { scope, id: undefined }
  }
  if (id === undefined) throw invalid(`${at}: ${scope as string} scope needs an id`)
  if (typeof id !== 'string' || !ID.test(id)) throw invalid(`${at}.id must match ${ID_PATTERN}`)
  return { scope: scope as Scope, id }
}

function isObject (value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value)
}

function invalid (problem: string): BrokerError {
  return brokerError('INVALID_BATCH', { args: [problem] })
}
