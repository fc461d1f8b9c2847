export { ClientCredentialsClient } from './client.js';
export type { CloseOptions, CloseResult, GetTokenOptions } from './client.js';
export { OAuthError, TokenError } from './errors.js';
export type { TokenErrorCode, TokenErrorOptions } from './errors.js';
export type { AuthorizedFetchOptions } from './fetch.js';
export { defaults } from './options.js';
export type { ClientAuthMethod, ClientCredentialsOptions, RetryOptions } from './options.js';
export type { Token } from './token.js';
