export { ClientCredentialsClient } from './client.js';
export { OAuthError, TokenError } from './errors.js';
export type { TokenErrorCode, TokenErrorOptions } from './errors.js';
export { diagnosticsChannels } from './events.js';
export type { BudgetEvent, ClientEventMap, ClientEventName, ErrorEvent, EventChannel, Logger, RetryEvent, RevokeEvent, TokenEvent } from './events.js';
export type { AuthorizedFetchOptions } from './fetch/authorized-fetch.js';
export { defaults } from './options.js';
export type {
  BudgetOptions,
  ClientAssertionOptions,
  ClientAuthMethod,
  ClientCredentialsOptions,
  CloseOptions,
  CooldownOptions,
  CloseResult,
  FetchLike,
  GetTokenOptions,
  RetryOptions,
} from './options.js';
export type { AuthorizationServerMetadata } from './protocol/discovery.js';
export type { DPoPOptions } from './protocol/dpop.js';
export type { PrivateKeyInput } from './protocol/keys.js';
export type { TlsOptions } from './protocol/mtls.js';
export { MemoryTokenStore } from './store.js';
export type { BudgetCount, TokenStore, TokenStoreLock } from './store.js';
export type { StoredToken, Token } from './token.js';
