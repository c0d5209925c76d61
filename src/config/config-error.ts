export class ConfigError extends Error {
  override name = 'ConfigError'
}

/** The one shape of a configuration error: the variables at fault, and why. */
export function invalidConfig (variables: string, reason: string): ConfigError {
  return new ConfigError(`Invalid configuration:\n  ${variables}: ${reason}`)
}
