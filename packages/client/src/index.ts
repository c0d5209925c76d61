export { createBrokerClient } from './client.js'
export type { AccountOption, BrokerClient, BrokerClientOptions } from './client.js'
export { BrokerError } from './broker-error.js'
export type { ClientErrorCode } from './broker-error.js'
export type { CallerCredential, TokenCredentialLike } from './caller-credential.js'
export type {
  BatchRequest,
  BatchResponse,
  BatchResult,
  EmbedUrlResponse,
  ErrorCode,
  InsightsOptions,
  PlayerOptions,
  TokenResponse,
  Widget
} from './types.js'
