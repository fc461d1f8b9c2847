import { OAuthError, TokenError } from '../errors.js';
import type { HeldToken, Issued, TokenParams } from '../token.js';
import type { Clock } from '../util/clock.js';
import type { ClientAuth } from './client-auth.js';
import type { DPoP } from './dpop.js';
import { type HttpResult, postForm, type SendOptions } from './http.js';
import { type RetryInfo, type RetryPolicy, transient, withRetry } from './retry.js';
import { buildTokenSchemas } from './schemas.js';
import { parseOAuthError, processTokenResponse, refreshInOf } from './token-response.js';

/** The bare 401 / 403 answers of token endpoints (no OAuth error body): credential refusals. */
const refusals = new WeakSet<TokenError>();

/** Everything a token request needs besides what it is for: the client's configuration, stateless. */
export interface TokenEndpointConfig {
  readonly clientId: string;
  readonly authenticate: ClientAuth;
  /** The `aud` of a client assertion sent to `endpoint`. */
  readonly assertionAudience: (endpoint: URL) => string | Promise<string>;
  readonly dpop: DPoP | undefined;
  readonly extraParams: Readonly<Record<string, string>>;
  /** Lifetime in ms assumed when the response has no `expires_in`. */
  readonly defaultLifetime: number;
  readonly retry: RetryPolicy;
  readonly send: SendOptions;
  readonly clock: Clock;
  readonly onRetry?: ((info: RetryInfo) => void) | undefined;
  /** Sees every retryable failed attempt; returning false ends the request with that failure (a fleet-wide cooldown then schedules the next attempt). */
  readonly onFailure?: ((error: TokenError, background: boolean) => boolean) | undefined;
}

/**
 * The grant of a token request: client credentials (RFC 6749 §4.4), or a refresh token the server
 * issued with an earlier token (RFC 6749 §6).
 */
export type Grant = { readonly type: 'client_credentials' } | { readonly type: 'refresh_token'; readonly refreshToken: string };

const CLIENT_CREDENTIALS: Grant = { type: 'client_credentials' };

/** The grant's form body (RFC 6749 §4.4.2 or §6, RFC 8707 `resource`, and the configured extra parameters). */
export function tokenRequestBody(
  params: TokenParams,
  extraParams: Readonly<Record<string, string>>,
  grant: Grant = CLIENT_CREDENTIALS,
): URLSearchParams {
  const body = new URLSearchParams({ grant_type: grant.type });
  if (grant.type === 'refresh_token') body.set('refresh_token', grant.refreshToken);
  if (params.scope.length > 0) body.set('scope', params.scope.join(' '));
  if (params.audience !== undefined) body.set('audience', params.audience);
  for (const resource of params.resource) body.append('resource', resource);
  for (const [name, value] of Object.entries(extraParams)) body.set(name, value);
  return body;
}

/**
 * Requests a token at `endpoint` with the client credentials grant (RFC 6749 §4.4), retrying transient
 * failures. With DPoP, a `use_dpop_nonce` answer gets one more request with the server's nonce
 * (RFC 9449 §8), not counted as a retry. A token that expired before its response arrived (a very short
 * lifetime on a slow or stalled process) is a transient failure; one that arrived with little time left
 * is returned: the cache decides how long to keep it.
 *
 * @see https://www.rfc-editor.org/rfc/rfc6749#section-4.4
 */
export function requestToken(
  config: TokenEndpointConfig,
  endpoint: URL,
  params: TokenParams,
  background: boolean,
  grant: Grant = CLIENT_CREDENTIALS,
): Promise<Issued> {
  const { clock, dpop } = config;
  // Before any request's clock starts: the first response is then checked without building a schema.
  buildTokenSchemas();
  // A refresh token is redacted like the client secret from whatever a server or a custom fetch echoes;
  // the client's secrets are read at each use: a provider may return a new one while this request runs.
  const refreshForms =
    grant.type === 'refresh_token' ? [grant.refreshToken, new URLSearchParams({ t: grant.refreshToken }).toString().slice(2)] : [];
  const send: SendOptions =
    grant.type === 'refresh_token'
      ? {
          ...config.send,
          get secrets() {
            return [...refreshForms, ...(config.send.secrets ?? [])];
          },
        }
      : config.send;
  const requestedScope = params.scope.length > 0 ? params.scope.join(' ') : undefined;
  const audience = () => config.assertionAudience(endpoint);
  return withRetry(
    async (attempts) => {
      let sentAt: number;
      let sentAtWall: number;
      let result: HttpResult;
      for (let nonceRetry = 0; ; nonceRetry++) {
        let proof: string | undefined;
        result = await postForm(endpoint, tokenRequestBody(params, config.extraParams, grant), send, async (body, headers) => {
          await config.authenticate(body, headers, audience);
          if (dpop !== undefined) headers.dpop = proof = await dpop.proof('POST', endpoint);
          sentAt = clock.now();
          sentAtWall = clock.wall();
        });
        const newNonce = dpop?.observe(endpoint, result.headers, proof) ?? false;
        if (nonceRetry > 0 || !newNonce || result.status !== 400 || parseOAuthError(result)?.error !== 'use_dpop_nonce') break;
      }
      let token: HeldToken;
      try {
        token = processTokenResponse(result, {
          sentAt: sentAtWall!,
          defaultLifetime: config.defaultLifetime,
          requestedScope,
          secrets: send.secrets ?? [],
        });
      } catch (error) {
        if (!OAuthError.is(error) && TokenError.is(error) && (result.status === 401 || result.status === 403)) refusals.add(error);
        throw error;
      }
      const lifetime = token.expiresAt - sentAtWall!;
      if (sentAt! + lifetime <= clock.now()) {
        const message = `token for ${config.clientId} expired before its response arrived (lifetime ${lifetime} ms)`;
        throw transient(new TokenError('INVALID_RESPONSE', message, { status: result.status }));
      }
      return { token, sentAt: sentAt!, sentAtWall: sentAtWall!, lifetime, attempts, refreshIn: refreshInOf(token.extra) };
    },
    config.retry,
    {
      signal: send.signal,
      background,
      onRetry: config.onRetry,
      onFailure: config.onFailure && ((error) => config.onFailure!(error, background)),
    },
  );
}

/**
 * True for an error that says the client's credentials were refused: an `invalid_client` OAuth error
 * with a 4xx status other than 429 (RFC 6749 §5.2: 400 or 401; a 429 or 5xx is the server throttled or
 * failing, retried as such), or a bare 401 / 403 from a token endpoint (no OAuth error body, not discovery's; some servers answer bad credentials
 * with an empty 401 or 403). The latter stays a `TokenError` `INVALID_RESPONSE` with that `status`: the
 * server did not say `invalid_client`, so the client does not claim it did.
 */
export function isInvalidClient(error: unknown): error is TokenError {
  if (OAuthError.is(error)) return error.error === 'invalid_client' && error.status < 500 && error.status !== 429;
  return TokenError.is(error) && refusals.has(error);
}
