import { STATUS_CODES } from 'node:http'

export interface ArmErrorBody {
  error: { code: string; message: string }
}

/** A rejection in ARM's error shape, thrown by ARM handlers and written by the ARM error handler. */
export class ArmError extends Error {
  constructor (
    readonly statusCode: number,
    readonly code: string,
    message: string,
    readonly headers: Readonly<Record<string, string>> = {}
  ) {
    super(message)
    this.name = 'ArmError'
  }

  toBody (): ArmErrorBody {
    return { error: { code: this.code, message: this.message } }
  }
}

/** 'Service Unavailable' becomes 'ServiceUnavailable', the form ARM uses for generic codes. */
export function codeForStatus (status: number): string {
  return (STATUS_CODES[status] ?? 'Unknown').replace(/[^A-Za-z0-9]/g, '')
}

/** Client errors from Fastify keep their status and message; anything else is a safe 500. */
export function toArmError (error: unknown): ArmError {
  if (error instanceof ArmError) return error
  const status = error instanceof Error && 'statusCode' in error ? error.statusCode : undefined
  if (typeof status === 'number' && status >= 400 && status < 500) {
    return new ArmError(status, codeForStatus(status), (error as Error).message)
  }
  return new ArmError(500, 'InternalServerError', 'The server encountered an internal error.')
}
