export { ClientCredentialsClient } from './client.js';
export { OAuthError, TokenError } from './errors.js';
export type { TokenErrorCode, TokenErrorOptions } from './errors.js';
export { diagnosticsChannels } from './events.js';
export type {
  BudgetEvent,
  ClientEventMap,
  ClientEventName,
  DiagnosticsChannels,
  ErrorEvent,
  EventChannel,
  Logger,
  RetryEvent,
  RevokeEvent,
  TokenEvent,
} from './events.js';
export type { AuthorizedFetchOptions } from './fetch/authorized-fetch.js';
export type { CloseOptions, CloseResult, GetTokenOptions } from './call-options.js';
export type { RequestHeadersOptions } from './fetch/request-headers.js';
export { defaults } from './options.js';
export type {
  AssertionFile,
  BudgetOptions,
  ClientAssertionOptions,
  ClientAuthMethod,
  ClientCredentialsOptions,
  CooldownOptions,
  CredentialProvider,
  FetchLike,
  RetryOptions,
} from './options.js';
export type { AuthorizationServerMetadata } from './protocol/discovery.js';
export type { DPoPOptions } from './protocol/dpop.js';
export type { PrivateKeyInput } from './protocol/keys.js';
export type { ResourceDiscoveryOptions } from './resources/options.js';
export { secretFromFile, tlsFromFiles } from './protocol/secret-file.js';
export type { TlsFiles } from './protocol/secret-file.js';
export type { TlsOptions, TlsProvider } from './protocol/mtls.js';
export type { ProxyOption } from './protocol/transport.js';
export { MemoryTokenStore, tokenFingerprint } from './store.js';
export type { BudgetCount, InvalidationListener, TokenStore, TokenStoreLock } from './store.js';
export type { StoredToken, Token } from './token.js';
export type { TraceExchange, TraceSink } from './trace.js';
