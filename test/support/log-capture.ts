import { Writable } from 'node:stream'

/** Collects every log line written by the app, and remembers secrets that must never appear in one. */
export class LogCapture extends Writable {
  readonly raw: string[] = []
  private readonly secrets = new Set<string>()

  override _write (chunk: Buffer, _encoding: string, callback: () => void): void {
    for (const line of chunk.toString('utf8').split('\n')) if (line !== '') this.raw.push(line)
    callback()
  }

  /** Parsed log records. */
  get records (): Array<Record<string, unknown>> {
    return this.raw.map((line) => JSON.parse(line) as Record<string, unknown>)
  }

  get audits (): Array<Record<string, unknown>> {
    return this.records.filter((record) => record.audit === true)
  }

  secret (value: string | undefined): void {
    // Short values could match by accident; every real token is far longer.
    if (value !== undefined && value.length >= 16) this.secrets.add(value)
  }

  /** The secrets found in any log line (the assertion is that this is empty). */
  leaks (): string[] {
    return [...this.secrets].filter((secret) => this.raw.some((line) => line.includes(secret)))
  }
}
