import type { GetTokenOptions } from '../call-options.js';
import type { DPoP } from '../protocol/dpop.js';
import { AUTHORIZATION, type HeldToken } from '../token.js';

/** Options of {@link ClientCredentialsClient.getRequestHeaders}: those of `getToken`, and the request's method. */
export interface RequestHeadersOptions extends GetTokenOptions {
  /** The method of the request the headers go with (signed into the DPoP proof). @default 'GET' */
  method?: string | undefined;
}

/** The absolute URL of a request; TypeError naming what is wrong otherwise. */
export function requestUrl(url: string | URL, what = 'url'): URL {
  if (url instanceof URL) return url;
  if (typeof url !== 'string') throw new TypeError(`m2m-token: \`${what}\` must be an absolute URL (string or URL)`);
  try {
    return new URL(url);
  } catch {
    throw new TypeError(`m2m-token: \`${what}\` is not an absolute URL`);
  }
}

/** The method of a request, validated: a non-empty string. */
export function requestMethod(method: unknown): string {
  if (method === undefined) return 'GET';
  if (typeof method !== 'string' || method === '') throw new TypeError('m2m-token: option `method` must be a non-empty string');
  return method;
}

/** The headers a request sent with `token` carries: `authorization`, and for a DPoP token its proof. */
export interface AuthorizationHeaders {
  authorization: string;
  dpop?: string;
}

/**
 * The headers that authorize one request with `token`: `authorization: <token_type> <access_token>`,
 * plus `dpop` with a fresh proof for this method and URL (its `ath`, and the origin's nonce if one is
 * known) when the token is a DPoP token and the client has a DPoP key.
 */
export async function authorizationHeaders(
  token: HeldToken,
  dpop: DPoP | undefined,
  method: string,
  url: string | URL,
): Promise<AuthorizationHeaders> {
  if (dpop === undefined || token.tokenType !== 'DPoP') return { authorization: token[AUTHORIZATION] };
  return { authorization: token[AUTHORIZATION], dpop: await dpop.proof(method, url, token.accessToken) };
}

/**
 * The access token in what a caller hands to `invalidate`: a token, an access token, or an
 * `Authorization` header value (`Bearer xyz`, `DPoP xyz`; the scheme compared case-insensitively).
 */
export function accessTokenOf(token: unknown): string {
  if (typeof token === 'object' && token !== null && typeof (token as { accessToken?: unknown }).accessToken === 'string') {
    return (token as { accessToken: string }).accessToken;
  }
  if (typeof token !== 'string' || token === '') {
    throw new TypeError('m2m-token: invalidate() takes a token, an access token or an Authorization header value');
  }
  const match = /^(?:bearer|dpop)[ \t]+(\S+)[ \t]*$/i.exec(token);
  return match ? match[1]! : token;
}
