/**
 * `m2m-token/undici`: tokens for requests sent with undici (`request`, `fetch` with a `dispatcher`, or
 * the global dispatcher), as an interceptor for `Dispatcher.compose()`.
 *
 * @packageDocumentation
 */
import type { Dispatcher } from 'undici';
import type { ClientCredentialsClient } from './client.js';
import { requiredOrigins } from './fetch/origins.js';
import { undiciInterceptor } from './fetch/undici-interceptor.js';
import { sourceOf } from './token-sources.js';

/** Options of {@link authorize}. */
export interface AuthorizeOptions {
  /**
   * The origins (`https://api.example.com`) tokens are sent to. Required: requests to any other origin
   * pass through the interceptor untouched, without a token.
   */
  origins: readonly (string | URL)[];
  /** Scope of the tokens this interceptor attaches. @default the client's `scope` */
  scope?: string | readonly string[] | undefined;
  /** Audience of the tokens this interceptor attaches. @default the client's `audience` */
  audience?: string | undefined;
  /** Resource indicators of the tokens this interceptor attaches. @default the client's `resource` */
  resource?: string | readonly string[] | undefined;
}

/**
 * An undici interceptor that authorizes every request to `origins` with a token of `client`:
 *
 * - sets `authorization: <token_type> <access_token>` (replacing the caller's), and for a DPoP token a
 *   `dpop` proof signed for the request's method and URL, with the resource server's nonce;
 * - after a 401 for the token it sent (no error, or `invalid_token`) drops exactly that token and sends
 *   once more with a new one; after a 401 asking for a DPoP nonce, once more with a proof carrying it.
 *   Both need a body that can be sent again: none, a string or a `Buffer`/`Uint8Array` (a stream, and
 *   `fetch`'s bodies, which undici sends as streams, get the 401 back);
 * - leaves requests to other origins untouched.
 *
 * Needs undici 7 or later (its `onRequestStart` handler API). The interceptor does not follow
 * redirects; compose it before `interceptors.redirect()` so that each hop is checked against `origins`.
 *
 * @throws {TypeError} when `origins` is missing or holds something that is not a URL, or `client` is
 *   not a `ClientCredentialsClient`.
 * @example
 * ```ts
 * import { Agent, request } from 'undici';
 * import { authorize } from 'm2m-token/undici';
 *
 * const dispatcher = new Agent().compose(authorize(client, { origins: ['https://api.example.com'] }));
 * const { statusCode, body } = await request('https://api.example.com/orders', { dispatcher });
 * ```
 */
export function authorize(client: ClientCredentialsClient, options: AuthorizeOptions): Dispatcher.DispatcherComposeInterceptor {
  if (typeof options !== 'object' || options === null) throw new TypeError('m2m-token: authorize() needs options with `origins`');
  const origins = requiredOrigins(options.origins, 'origins');
  return undiciInterceptor(sourceOf(client, options, 'authorize()'), origins);
}
