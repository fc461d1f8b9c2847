import type { DPoP } from '../protocol/dpop.js';
import { parseWwwAuthenticate } from '../protocol/www-authenticate.js';

/**
 * What a resource server's refusal means for the token that was sent: the decisions every HTTP client
 * integration (the fetch wrapper, the undici interceptor, the axios interceptors) shares.
 */

/**
 * A 401 is worth one retry with a fresh token when it has no challenge for the token's scheme, or one
 * whose `error` is absent or `invalid_token` (RFC 6750 §3.1). `insufficient_scope` and the like are not:
 * a new token would be refused the same way.
 *
 * @param wwwAuthenticate the response's `WWW-Authenticate` header (null when absent)
 */
export function isStaleTokenChallenge(wwwAuthenticate: string | null, tokenType: string): boolean {
  const scheme = tokenType.toLowerCase();
  const challenge = parseWwwAuthenticate(wwwAuthenticate).find((c) => c.scheme === scheme);
  const error = challenge?.params.get('error');
  return error === undefined || error === 'invalid_token';
}

/**
 * A response asking for a DPoP nonce (RFC 9449 §9): a 401 (or 400) with a `DPoP` challenge whose
 * `error` is `use_dpop_nonce`. Worth one more proof with the nonce the server sent.
 */
export function asksForNonce(status: number, wwwAuthenticate: string | null): boolean {
  return (
    (status === 401 || status === 400) &&
    parseWwwAuthenticate(wwwAuthenticate).some((c) => c.scheme === 'dpop' && c.params.get('error') === 'use_dpop_nonce')
  );
}

/**
 * Remembers a `DPoP-Nonce` the resource server sent and says whether it is one `proof` (the proof sent
 * with the request, if any) did not carry, so that a new proof would differ.
 *
 * @param dpopNonce the response's `DPoP-Nonce` header (null when absent)
 */
export function observeNonce(dpop: DPoP | undefined, url: string | URL, dpopNonce: string | null, proof: string | undefined): boolean {
  if (dpop === undefined || dpopNonce === null) return false;
  let headers: Headers;
  try {
    headers = new Headers({ 'dpop-nonce': dpopNonce });
  } catch {
    return false; // not a valid header value: not a nonce
  }
  return dpop.observe(url, headers, proof);
}

/**
 * One more proof is worth sending: the response asks for a nonce, and sent one the proof did not carry.
 * `newNonce` is what {@link observeNonce} returned for this response.
 */
export function shouldResendForNonce(status: number, wwwAuthenticate: string | null, newNonce: boolean): boolean {
  return newNonce && asksForNonce(status, wwwAuthenticate);
}
