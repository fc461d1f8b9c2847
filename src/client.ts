import { waitingOutCooldown } from './acquire/cooldown.js';
import { type Core, assemble } from './assemble.js';
import type { TokenEntry } from './cache/token-entry.js';
import { createDiscoveringFetch } from './discovering-fetch.js';
import { TokenError } from './errors.js';
import type { ClientEventMap, ClientEventName } from './events.js';
import { type AuthorizedFetchOptions, createAuthorizedFetch, resolveAllowedOrigins } from './fetch/authorized-fetch.js';
import { accessTokenOf, authorizationHeaders, type RequestHeadersOptions, requestMethod, requestUrl } from './fetch/request-headers.js';
import { closeClient } from './lifecycle.js';
import type { CloseOptions, CloseResult, GetTokenOptions } from './call-options.js';
import type { ClientCredentialsOptions } from './options.js';
import type { AuthorizationServerMetadata } from './protocol/discovery.js';
import { resolveOptions, resolveParams } from './resolve-options.js';
import { refreshTokensOf, revocable } from './revocations.js';
import type { HeldToken, Token } from './token.js';
import { invalidateIn, invalidateValue, registerCore, tokenSource } from './token-sources.js';
import { type Clock, systemClock } from './util/clock.js';

export type { CloseOptions, CloseResult, GetTokenOptions } from './call-options.js';

/**
 * An OAuth 2.0 client credentials grant client (RFC 6749 §4.4) that caches tokens, refreshes them ahead
 * of expiry without making callers wait, sends one request per key however many callers ask at once,
 * retries transient failures, and revokes tokens (RFC 7009).
 *
 * This class is a façade: the cache entries (`cache/`), the token request and its decorators
 * (`protocol/`, `acquire/`), the fetch wrapper (`fetch/`) and revocation do the work; see
 * docs/architecture.md.
 *
 * @see https://www.rfc-editor.org/rfc/rfc6749#section-4.4
 * @example
 * ```ts
 * const client = new ClientCredentialsClient({
 *   issuer: 'https://auth.example.com',
 *   clientId: 'svc-a',
 *   clientSecret: 'from your secret manager',
 *   scope: ['orders:read'],
 * });
 * const { accessToken } = await client.getToken();
 * const res = await client.fetch('https://api.example.com/orders');
 * await client.close({ revoke: true });
 * ```
 */
export class ClientCredentialsClient {
  readonly #core: Core;
  /** The default entry, held directly: `getToken()` without options is the hot path. */
  readonly #default: TokenEntry;
  #closing: Promise<CloseResult> | undefined;

  /**
   * `fetch` with the client's default token attached; same signature as the global `fetch`, already
   * bound. See {@link ClientCredentialsClient.createFetch}. With `resourceDiscovery`, resources that
   * name their metadata get tokens from the (allowed) authorization server they name instead.
   */
  readonly fetch: typeof globalThis.fetch;

  /** @throws TypeError naming the first invalid option. */
  constructor(options: ClientCredentialsOptions);
  /** @internal With another clock, for tests. */
  constructor(options: ClientCredentialsOptions, clock: Clock);
  constructor(options: ClientCredentialsOptions, clock: Clock = systemClock) {
    this.#core = assemble(resolveOptions(options), clock);
    this.#default = this.#core.entries.default;
    registerCore(this, this.#core);
    const { resources } = this.#core;
    this.fetch =
      resources === undefined
        ? this.createFetch()
        : createDiscoveringFetch(this.#core, resources, (entry, token) => invalidateIn(this.#core, entry, token));
  }

  /**
   * Returns a valid access token: from the cache while it is fresh, otherwise from the token endpoint.
   * Concurrent callers for one key share one request. A token is never handed out at or after
   * `expiresAt − margin`; once `refreshRatio` of its usable life has passed, the first call starts a
   * background refresh and keeps getting the current token meanwhile.
   *
   * @throws {TokenError} with `code` `OAUTH_ERROR`, `INVALID_RESPONSE`, `TIMEOUT`, `NETWORK`, `ABORTED`, `CLOSED`,
   *   `COOLDOWN` (the token endpoint asked to back off; see `waitForCooldown`), `BUDGET` (issuance budget
   *   spent), or `CONFIG` when an optional peer (`jose`, `undici`) a configured feature needs is not installed.
   * @throws {TypeError} for invalid per-call options.
   * @example
   * ```ts
   * const { accessToken } = await client.getToken({ scope: 'orders:read', signal: AbortSignal.timeout(2000) });
   * ```
   */
  getToken(options?: GetTokenOptions): Promise<Token> {
    if (options === undefined) return this.#default.get(undefined, false);
    let entry: TokenEntry;
    try {
      entry = this.#entryFor(options);
    } catch (error) {
      return Promise.reject(error);
    }
    const get = () => entry.get(options.signal, options.forceRefresh === true);
    if (options.waitForCooldown !== true) return get();
    return waitingOutCooldown(get, options.signal, this.#core.clock, this.#core.options.cooldown);
  }

  /**
   * Builds a `fetch` that attaches a token to every request, recovers once from a 401 with a fresh
   * token when the body can be replayed, and never lets the token follow a redirect to another origin.
   * The wrapper's cache entry is kept from eviction while the wrapper is reachable.
   *
   * @example
   * ```ts
   * const api = client.createFetch({ allowedOrigins: ['https://api.example.com'], scope: 'orders:write' });
   * await api('https://api.example.com/orders', { method: 'POST', body: JSON.stringify(order) });
   * ```
   */
  createFetch(options: AuthorizedFetchOptions = {}): typeof globalThis.fetch {
    const allowedOrigins = resolveAllowedOrigins(options.allowedOrigins);
    if (options.fetch !== undefined && typeof options.fetch !== 'function') {
      throw new TypeError('m2m-token: option `fetch` must be a function');
    }
    const source = tokenSource(this.#core, options);
    return createAuthorizedFetch(source, allowedOrigins, options.fetch ?? this.#core.fetch);
  }

  /**
   * The headers that authorize one request to `url` with any HTTP client: `authorization`
   * (`<token_type> <access_token>`) and, for a DPoP token, `dpop` with a fresh proof for this method and
   * URL. Takes the options of {@link ClientCredentialsClient.getToken} and the request's `method`.
   * On a 401 for these headers, pass `authorization` to {@link ClientCredentialsClient.invalidate} and
   * send once more with new headers.
   *
   * @throws {TypeError} when `url` is not absolute; otherwise as {@link ClientCredentialsClient.getToken}.
   * @example
   * ```ts
   * const headers = await client.getRequestHeaders('https://api.example.com/orders', { method: 'POST' });
   * ```
   */
  async getRequestHeaders(url: string | URL, options: RequestHeadersOptions = {}): Promise<Record<string, string>> {
    const target = requestUrl(url);
    const method = requestMethod(options.method);
    const token = (await this.getToken(options)) as HeldToken;
    return { ...(await authorizationHeaders(token, this.#core.dpop, method, target)) };
  }

  /**
   * A resource server refused a token (a 401 for it): drops exactly that token if it is still the
   * current one of its cache entry (and from the shared store), so that the next call gets a new one.
   * Any number of calls for one token cause one token request; a token already replaced changes nothing.
   *
   * @param token the refused token: a {@link Token}, its access token, or the `Authorization` header
   *   value that was sent (`Bearer xyz`, `DPoP xyz`).
   * @returns whether to send once more: false when the replacement of a refused token was refused too
   *   (the resource server refuses every token; refusals are then ignored for 10 s).
   */
  invalidate(token: Token | string): boolean {
    return invalidateValue(this.#core, accessTokenOf(token));
  }

  /**
   * Revokes tokens at the revocation endpoint (RFC 7009) with `token_type_hint=access_token`, and
   * the refresh token that came with each (`refresh_token`), if any. Without an argument it revokes every token the client holds; with one, that token. Revoked tokens
   * are forgotten first, so they are never handed out again even if revocation fails; the next
   * `getToken()` requests a new one. Tokens from servers found by resource discovery are forgotten, never
   * sent to this client's revocation endpoint.
   *
   * @throws {TokenError} `CONFIG` when no revocation endpoint is configured or discovered; the error of
   *   the failed revocation (an aggregate `TokenError` with the errors in `cause` when several failed).
   * @see https://www.rfc-editor.org/rfc/rfc7009
   */
  async revoke(token?: Token | string): Promise<void> {
    const { closer, endpoints, revocations } = this.#core;
    if (closer.signal.aborted) throw closer.signal.reason;
    if (token !== undefined && typeof token !== 'string' && typeof token?.accessToken !== 'string') {
      throw new TypeError('m2m-token: revoke() takes a token or an access token string');
    }
    const endpoint = await endpoints.revocation(closer.signal);
    const held = token === undefined ? revocations.forgetAll() : revocations.forget(typeof token === 'string' ? token : token.accessToken);
    await revocations.unshare(held);
    const values = revocable(held);
    // Not tied to the client closing: a close() that comes meanwhile must not abandon these revocations
    // (it finds the tokens already forgotten). Each attempt is bounded by `timeout` all the same.
    const errors = await revocations.revokeAll(endpoint, this.#core.revocationConfig(undefined), values, refreshTokensOf(held));
    if (errors.length === 1) throw errors[0];
    if (errors.length > 1) {
      throw new TokenError(errors[0]!.code, `${errors.length} of ${values.length} revocations failed; first: ${errors[0]!.message}`, {
        cause: new AggregateError(errors),
      });
    }
  }

  /**
   * Closes the client: later calls reject with `CLOSED`, requests in flight are abandoned and, with
   * `{ revoke: true }`, every held token is revoked in parallel within `timeout`. Idempotent; never
   * rejects: failures are reported in the {@link CloseResult}.
   */
  close(options: CloseOptions = {}): Promise<CloseResult> {
    const { timeout } = options;
    if (timeout !== undefined && !(Number.isInteger(timeout) && timeout > 0 && timeout <= 2_147_483_647)) {
      throw new TypeError('m2m-token: option `timeout` of close() must be a positive integer of ms');
    }
    this.#closing ??= closeClient(this.#core, options);
    return this.#closing;
  }

  /**
   * Listens to the client's events: `token` (acquired or refreshed), `retry`, `error` and `revoke`.
   * Payloads never hold secrets or tokens (a short token `fingerprint` instead). The same events are
   * published on `node:diagnostics_channel` (see {@link diagnosticsChannels}).
   *
   * @returns a function that removes the listener.
   * @example
   * ```ts
   * client.on('retry', (e) => console.warn('token endpoint retry', e.reason));
   * ```
   */
  on<E extends ClientEventName>(event: E, listener: (event: ClientEventMap[E]) => void): () => void {
    return this.#core.events.on(event, listener);
  }

  /**
   * The authorization server metadata of `issuer` (RFC 8414), as the client uses it: fetched once,
   * validated, shared.
   *
   * @throws {TokenError} `CONFIG` without an `issuer`; otherwise as {@link ClientCredentialsClient.getToken}.
   */
  async metadata(): Promise<AuthorizationServerMetadata> {
    const { closer, options, endpoints } = this.#core;
    if (closer.signal.aborted) throw closer.signal.reason;
    if (options.issuer === undefined) throw new TokenError('CONFIG', 'no issuer: metadata comes from discovery of `issuer`');
    return (await endpoints.discovered(closer.signal)).metadata;
  }

  /** Closes the client (without revoking), for `await using client = new ClientCredentialsClient(…)`. */
  async [Symbol.asyncDispose](): Promise<void> {
    await this.close();
  }

  /** A summary free of secrets and tokens. */
  toJSON(): Record<string, unknown> {
    const { tokenEndpoint, issuer, clientId, clientAuth } = this.#core.options;
    const endpoint = tokenEndpoint && `${tokenEndpoint.origin}${tokenEndpoint.pathname}`;
    return { clientId, clientAuth, tokenEndpoint: endpoint, issuer, closed: this.#core.closer.signal.aborted };
  }

  /** @internal `util.inspect` shows the same secret-free summary as `toJSON`. */
  [Symbol.for('nodejs.util.inspect.custom')](): string {
    return `ClientCredentialsClient ${JSON.stringify(this.toJSON())}`;
  }

  #entryFor(options: GetTokenOptions): TokenEntry {
    const { entries } = this.#core;
    const params = resolveParams(options, entries.default.params);
    return params === undefined ? entries.default : entries.get(params);
  }
}
