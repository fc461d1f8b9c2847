/**
 * `m2m-token/axios`: tokens for requests sent with an axios instance, as request and response
 * interceptors. This entry loads no axios code of its own: it works on the instance you pass.
 *
 * @packageDocumentation
 */
import type { AxiosInstance } from 'axios';
import type { ClientCredentialsClient } from './client.js';
import { installAxiosInterceptors } from './fetch/axios-interceptors.js';
import { requiredOrigins } from './fetch/origins.js';
import { sourceOf } from './token-sources.js';

/** Options of {@link authorizeAxios}. */
export interface AuthorizeAxiosOptions {
  /**
   * The origins (`https://api.example.com`) tokens are sent to. Required: requests to any other origin
   * go out untouched, without a token.
   */
  origins: readonly (string | URL)[];
  /** Scope of the tokens these interceptors attach. @default the client's `scope` */
  scope?: string | readonly string[] | undefined;
  /** Audience of the tokens these interceptors attach. @default the client's `audience` */
  audience?: string | undefined;
  /** Resource indicators of the tokens these interceptors attach. @default the client's `resource` */
  resource?: string | readonly string[] | undefined;
}

/**
 * Installs interceptors on an axios instance that authorize every request to `origins` with a token of
 * `client` (the URL is what `instance.getUri(config)` gives: `baseURL` and `url` combined):
 *
 * - set `Authorization: <token_type> <access_token>`, and for a DPoP token a `DPoP` proof signed for the
 *   request's method and URL, with the resource server's nonce;
 * - after a 401 for the token sent (no error, or `invalid_token`) drop exactly that token and send once
 *   more with a new one (the config is marked, so never more than once); after a 401 asking for a DPoP
 *   nonce, once more with a proof carrying it. Not for stream data, which cannot be sent again;
 * - leave requests to other origins untouched.
 *
 * @returns a function that removes the interceptors.
 * @throws {TypeError} when `origins` is missing or holds something that is not a URL, `instance` is not
 *   an axios instance, or `client` is not a `ClientCredentialsClient`.
 * @example
 * ```ts
 * import axios from 'axios';
 * import { authorizeAxios } from 'm2m-token/axios';
 *
 * const api = axios.create({ baseURL: 'https://api.example.com' });
 * authorizeAxios(api, client, { origins: ['https://api.example.com'] });
 * const { data } = await api.get('/orders');
 * ```
 */
export function authorizeAxios(instance: AxiosInstance, client: ClientCredentialsClient, options: AuthorizeAxiosOptions): () => void {
  if (typeof instance?.interceptors?.request?.use !== 'function' || typeof instance.getUri !== 'function') {
    throw new TypeError('m2m-token: authorizeAxios() takes an axios instance first');
  }
  if (typeof options !== 'object' || options === null) throw new TypeError('m2m-token: authorizeAxios() needs options with `origins`');
  const origins = requiredOrigins(options.origins, 'origins');
  return installAxiosInterceptors(instance, sourceOf(client, options, 'authorizeAxios()'), origins);
}
