import { createHash } from 'node:crypto';
import { setMaxListeners } from 'node:events';
import { type Slot, type TokenParams, SlotCache, cacheKey, createSlot } from './cache.js';
import { applyClientAuth, type ClientCredentials, secretForms } from './client-auth.js';
import { type AuthorizationServerMetadata, discover } from './discovery.js';
import { DPoP } from './dpop.js';
import { type ClientEventMap, type ClientEventName, Events, fingerprint } from './events.js';
import { OAuthError, TokenError } from './errors.js';
import { type AuthorizedFetchOptions, type TokenSource, createAuthorizedFetch, resolveAllowedOrigins } from './fetch.js';
import { type HttpResult, send, type SendOptions } from './http.js';
import { certificateThumbprint, mtlsFetch } from './mtls.js';
import { type ClientCredentialsOptions, type ResolvedOptions, parseEndpoint, resolveOptions, scopeList, stringList } from './options.js';
import { type RetryInfo, sleep, withRetry } from './retry.js';
import type { StoredToken, TokenStore, TokenStoreLock } from './store.js';
import { createToken, type HeldToken, type Token } from './token.js';
import { loadSchemas } from './schemas.js';
import { errorFromResponse, parseOAuthError, processTokenResponse } from './token-response.js';

/** Per-call options of {@link ClientCredentialsClient.getToken}. Unset fields take the client's. */
export interface GetTokenOptions {
  /** Scope for this token instead of the client's. */
  scope?: string | readonly string[];
  /** Audience for this token instead of the client's. */
  audience?: string;
  /** Resource indicators (RFC 8707) for this token instead of the client's. */
  resource?: string | readonly string[];
  /** Skip the cache and request a new token (joins a request already in flight for the same key). */
  forceRefresh?: boolean;
  /** Aborts this caller's wait (`ABORTED`); the shared request carries on for the others. */
  signal?: AbortSignal;
}

/** Options of {@link ClientCredentialsClient.close}. */
export interface CloseOptions {
  /**
   * Revoke every token the client holds (RFC 7009) before resolving, in parallel and best effort.
   * @default false
   */
  revoke?: boolean;
  /**
   * Most time the revocations may take, in ms; what is unfinished then is reported as a `TIMEOUT` error.
   * @default 5000
   */
  timeout?: number;
  /**
   * With a shared `store` (Redis), also revoke the tokens the rest of the fleet is using, and delete
   * them from the store. Without it, `revoke: true` leaves shared tokens alone (counted in `skipped`).
   * @default false
   */
  revokeShared?: boolean;
}

/** What {@link ClientCredentialsClient.close} did. It resolves with this; it never rejects. */
export interface CloseResult {
  /** How many tokens were revoked. */
  readonly revoked: number;
  /** One error per token that could not be revoked (or one `CONFIG` error if no endpoint is known). */
  readonly errors: readonly TokenError[];
  /** Tokens not revoked because they are shared with other processes through the store. */
  readonly skipped: number;
}

interface Issued {
  readonly token: HeldToken;
  readonly sentAt: number;
  /** Attempts at the token endpoint; 0 for a token taken from the store. */
  readonly attempts: number;
}

/** A token the client held, and its key in the store. */
interface Held {
  readonly value: string;
  readonly storeKey: string | undefined;
}

/** Returned by a token store call that failed, timed out or was skipped while the store is bypassed. */
const STORE_FAILED = Symbol('store failed');

interface Endpoints {
  readonly token: URL;
  readonly revocation: URL | undefined;
  readonly metadata: AuthorizationServerMetadata;
}

const MAX_REVOKED_REMEMBERED = 1000;
const CLOSE_TIMEOUT = 5_000;
/** Each token store call gets this long; a store that fails is bypassed for `STORE_BYPASS` ms. */
const STORE_TIMEOUT = 1_000;
const STORE_BYPASS = 10_000;
/** How often a process waiting for another's refresh looks at the store. */
const STORE_POLL = 25;
/** How much longer than a lock lives a process waits for another's refresh before asking itself. */
const STORE_WAIT_GRACE = 1_000;
const noop = () => {};

/**
 * An OAuth 2.0 client credentials grant client (RFC 6749 §4.4) that caches tokens, refreshes them ahead
 * of expiry without making callers wait, sends one request per key however many callers ask at once,
 * retries transient failures, and revokes tokens (RFC 7009).
 *
 * @see https://www.rfc-editor.org/rfc/rfc6749#section-4.4
 * @example
 * ```ts
 * const client = new ClientCredentialsClient({
 *   tokenEndpoint: 'https://auth.example.com/oauth2/token',
 *   clientId: 'svc-a',
 *   clientSecret: process.env.CLIENT_SECRET,
 *   scope: ['orders:read'],
 * });
 * const { accessToken } = await client.getToken();
 * const res = await client.fetch('https://api.example.com/orders');
 * await client.close({ revoke: true });
 * ```
 */
export class ClientCredentialsClient {
  readonly #options: ResolvedOptions;
  readonly #credentials: ClientCredentials;
  /** Redacted from server-provided text in errors: the secret as it is sent. */
  readonly #secrets: readonly string[];
  readonly #defaultSlot: Slot;
  readonly #slots: SlotCache;
  readonly #pinned = new Map<string, Slot>();
  readonly #closer = new AbortController();
  readonly #sendOptions: SendOptions;
  readonly #revoked = new Set<string>();
  #endpoints: Promise<Endpoints> | undefined;
  #invalidClient: { error: OAuthError; until: number } | undefined;
  #closing: Promise<CloseResult> | undefined;
  readonly #events: Events;
  readonly #store: TokenStore | undefined;
  readonly #dpop: DPoP | undefined;
  readonly #mtls: ReturnType<typeof mtlsFetch> | undefined;
  /** What tokens are bound to (DPoP key, client certificate): part of the store key. */
  readonly #binding: string | undefined;
  #storeBypassedUntil = 0;
  /** Callers waiting in {@link #wait}, and the ref'ed handle that keeps the process alive meanwhile. */
  #waiting = 0;
  /** Callers waiting in {@link #wait}: rejected with `CLOSED` when the client closes. */
  readonly #waiters = new Set<(reason: unknown) => void>();
  #keepAlive: NodeJS.Timeout | undefined;

  /**
   * `fetch` with the client's default token attached; same signature as the global `fetch`, already
   * bound. See {@link ClientCredentialsClient.createFetch}.
   */
  readonly fetch: typeof globalThis.fetch;

  /** @throws TypeError naming the first invalid option. */
  constructor(options: ClientCredentialsOptions) {
    this.#options = resolveOptions(options);
    const { clientAuth, clientId, clientSecret, scope, audience, resource, maxCacheEntries } = this.#options;
    const { signingKey, assertionLifetime, tls, dpop } = this.#options;
    this.#credentials = { method: clientAuth, clientId, clientSecret, signingKey, assertionLifetime };
    this.#secrets = secretForms(clientId, clientSecret);
    this.#dpop = dpop === undefined ? undefined : new DPoP(dpop);
    this.#mtls = tls === undefined ? undefined : mtlsFetch(tls);
    const bindings = [this.#dpop && `jkt:${this.#dpop.thumbprint}`, tls && `x5t:${certificateThumbprint(tls)}`].filter(Boolean);
    this.#binding = bindings.length > 0 ? bindings.join(' ') : undefined;
    this.#defaultSlot = createSlot({ scope, audience, resource });
    this.#slots = new SlotCache(maxCacheEntries);
    this.#events = new Events(this.#options.logger);
    this.#store = this.#options.store;
    // Each token request in flight (one per cache entry at most) listens for the client closing.
    setMaxListeners(0, this.#closer.signal);
    this.#closer.signal.addEventListener('abort', () => {
      for (const onClose of [...this.#waiters]) onClose(this.#closer.signal.reason);
    });
    this.#sendOptions = {
      fetch: this.#options.fetch ?? this.#mtls?.fetch,
      timeout: this.#options.timeout,
      maxResponseBytes: this.#options.maxResponseBytes,
      signal: this.#closer.signal,
      secrets: this.#secrets,
    };
    this.fetch = this.createFetch();
  }

  /**
   * Returns a valid access token: from the cache while it is fresh, otherwise from the token endpoint.
   * Concurrent callers for one key share one request. A token is never handed out at or after
   * `expiresAt − margin`; once `refreshRatio` of its usable life has passed, the first call starts a
   * background refresh and keeps getting the current token meanwhile.
   *
   * @throws {TokenError} with `code` `OAUTH_ERROR`, `INVALID_RESPONSE`, `TIMEOUT`, `NETWORK`, `ABORTED`, `CLOSED`,
   *   or `CONFIG` when an optional peer (`jose`, `undici`) a configured feature needs is not installed.
   * @throws {TypeError} for invalid per-call options.
   * @example
   * ```ts
   * const { accessToken } = await client.getToken({ scope: 'orders:read', signal: AbortSignal.timeout(2000) });
   * ```
   */
  getToken(options?: GetTokenOptions): Promise<Token> {
    if (options === undefined) return this.#get(this.#defaultSlot, undefined, false);
    let slot: Slot;
    try {
      slot = this.#slotFor(options);
    } catch (error) {
      return Promise.reject(error);
    }
    return this.#get(slot, options.signal, options.forceRefresh === true);
  }

  /**
   * Builds a `fetch` that attaches a token to every request, recovers once from a 401 with a fresh
   * token when the body can be replayed, and never lets the token follow a redirect to another origin.
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
    const slot = this.#slotFor(options, true);
    const source: TokenSource = {
      get: (signal) => this.#get(slot, signal ?? undefined, false),
      invalidate: (token) => this.#invalidate(token),
      dpop: this.#dpop,
    };
    return createAuthorizedFetch(source, allowedOrigins, options.fetch ?? this.#sendOptions.fetch);
  }

  /**
   * Revokes tokens at the revocation endpoint (RFC 7009) with `token_type_hint=access_token`.
   * Without an argument it revokes every token the client holds; with one, that token. Revoked tokens
   * are forgotten first, so they are never handed out again even if revocation fails; the next
   * `getToken()` requests a new one.
   *
   * @throws {TokenError} `CONFIG` when no revocation endpoint is configured or discovered; the error of
   *   the failed revocation (an aggregate `TokenError` with the errors in `cause` when several failed).
   * @see https://www.rfc-editor.org/rfc/rfc7009
   */
  async revoke(token?: Token | string): Promise<void> {
    if (this.#closer.signal.aborted) throw this.#closer.signal.reason;
    if (token !== undefined && typeof token !== 'string' && typeof token?.accessToken !== 'string') {
      throw new TypeError('m2m-token: revoke() takes a token or an access token string');
    }
    const endpoint = await this.#revocationEndpoint(this.#closer.signal);
    const held = token === undefined ? this.#forgetAll() : this.#forget(typeof token === 'string' ? token : token.accessToken);
    await this.#unshare(held);
    const values = [...new Set(held.map((h) => h.value))];
    // Not tied to the client closing: a close() that comes meanwhile must not abandon these revocations
    // (it finds the tokens already forgotten). Each attempt is bounded by `timeout` all the same.
    const errors = await this.#revokeAll(endpoint, values, undefined);
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
    this.#closing ??= this.#close(options);
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
   * client.on('retry', (e) => log.warn(e, 'token endpoint retry'));
   * ```
   */
  on<E extends ClientEventName>(event: E, listener: (event: ClientEventMap[E]) => void): () => void {
    if (!['token', 'retry', 'error', 'revoke'].includes(event)) throw new TypeError(`m2m-token: unknown event ${String(event)}`);
    if (typeof listener !== 'function') throw new TypeError('m2m-token: the listener must be a function');
    return this.#events.on(event, listener);
  }

  /**
   * The authorization server metadata of `issuer` (RFC 8414), as the client uses it: fetched once,
   * validated, shared.
   *
   * @throws {TokenError} `CONFIG` without an `issuer`; otherwise as {@link ClientCredentialsClient.getToken}.
   */
  async metadata(): Promise<AuthorizationServerMetadata> {
    if (this.#closer.signal.aborted) throw this.#closer.signal.reason;
    if (this.#options.issuer === undefined) throw new TokenError('CONFIG', 'no issuer: metadata comes from discovery of `issuer`');
    return (await this.#discovered()).metadata;
  }

  /** Closes the client (without revoking), for `await using client = new ClientCredentialsClient(…)`. */
  async [Symbol.asyncDispose](): Promise<void> {
    await this.close();
  }

  /** A summary free of secrets and tokens. */
  toJSON(): Record<string, unknown> {
    const { tokenEndpoint, issuer, clientId, clientAuth } = this.#options;
    const endpoint = tokenEndpoint && `${tokenEndpoint.origin}${tokenEndpoint.pathname}`;
    return { clientId, clientAuth, tokenEndpoint: endpoint, issuer, closed: this.#closer.signal.aborted };
  }

  /** @internal `util.inspect` shows the same secret-free summary as `toJSON`. */
  [Symbol.for('nodejs.util.inspect.custom')](): string {
    return `ClientCredentialsClient ${JSON.stringify(this.toJSON())}`;
  }

  /**
   * The slot for a call's options. Slots of fetch wrappers are pinned: never evicted, so a wrapper's
   * tokens stay visible to `revoke()`.
   */
  #slotFor(options: GetTokenOptions | AuthorizedFetchOptions, pin = false): Slot {
    if (options.scope === undefined && options.audience === undefined && options.resource === undefined) return this.#defaultSlot;
    const defaults = this.#defaultSlot.params;
    if (options.audience !== undefined && (typeof options.audience !== 'string' || options.audience === '')) {
      throw new TypeError('m2m-token: option `audience` must be a non-empty string');
    }
    const params: TokenParams = {
      scope: options.scope === undefined ? defaults.scope : scopeList('scope', options.scope),
      audience: options.audience ?? defaults.audience,
      resource: options.resource === undefined ? defaults.resource : stringList('resource', options.resource),
    };
    const key = cacheKey(params);
    if (key === this.#defaultSlot.key) return this.#defaultSlot;
    let slot = this.#pinned.get(key);
    if (slot === undefined && pin) {
      slot = this.#slots.take(key) ?? createSlot(params);
      this.#pinned.set(key, slot);
    }
    return slot ?? this.#slots.get(params, key);
  }

  /** The cached path: the slot's token while usable (starting a background refresh when due), else a wait. */
  #get(slot: Slot, signal: AbortSignal | undefined, force: boolean): Promise<HeldToken> {
    // No closed check first: close() empties every slot before it aborts, so a closed client never
    // gets past the usable check, and the cached path stays free of it.
    if (!force) {
      const now = Date.now();
      if (now < slot.usableUntil && slot.resolved !== undefined) {
        if (now >= slot.refreshAt && slot.inflight === undefined) this.#refresh(slot, true);
        return slot.resolved;
      }
    }
    if (this.#closer.signal.aborted) return Promise.reject(this.#closer.signal.reason);
    // Checked before starting a request: a caller that already gave up must not cause one.
    if (signal?.aborted) return Promise.reject(aborted(signal));
    return this.#wait(slot.inflight ?? this.#refresh(slot, false, force), signal);
  }

  /** Waits for `promise`, but lets the caller's signal and the client closing end the wait early. */
  #wait(promise: Promise<HeldToken>, signal: AbortSignal | undefined): Promise<HeldToken> {
    if (signal?.aborted) return Promise.reject(aborted(signal));
    return new Promise((resolve, reject) => {
      const release = this.#holdProcess();
      // The client closing ends every wait through one set (an abort listener per waiter on one signal
      // would make N concurrent waiters cost O(N²): EventTarget scans its listeners on every add).
      const onClose = (reason: unknown) => {
        cleanup();
        reject(reason);
      };
      const onAbort = () => {
        cleanup();
        reject(aborted(signal!));
      };
      const cleanup = () => {
        release();
        signal?.removeEventListener('abort', onAbort);
        this.#waiters.delete(onClose);
      };
      signal?.addEventListener('abort', onAbort, { once: true });
      this.#waiters.add(onClose);
      promise.then(
        (token) => {
          cleanup();
          resolve(token);
        },
        (error: unknown) => {
          cleanup();
          reject(error);
        },
      );
    });
  }

  /**
   * Keeps the process alive while a caller waits. The request it waits for may be a background refresh,
   * whose retry delays are unref'ed (nobody waited when it started): without this, a script awaiting
   * `getToken()` during such a delay would exit with its promise unsettled. Returns an idempotent release.
   */
  #holdProcess(): () => void {
    if (this.#waiting++ === 0) this.#keepAlive = setInterval(noop, 2 ** 30);
    let held = true;
    return () => {
      if (!held) return;
      held = false;
      if (--this.#waiting === 0) {
        clearInterval(this.#keepAlive);
        this.#keepAlive = undefined;
      }
    };
  }

  /** Starts the one request of a slot and stores its token, unless revocation or close intervened. */
  #refresh(slot: Slot, background = false, force = false): Promise<HeldToken> {
    const generation = slot.generation;
    const started = Date.now();
    // A background refresh starts on the next turn of the event loop: the caller that made it due gets
    // its cached token without first paying for building and sending the request.
    const acquiring = background ? nextTurn().then(() => this.#acquire(slot, background, force)) : this.#acquire(slot, background, force);
    const request: Promise<HeldToken> = acquiring.then(
      ({ token, sentAt, attempts }) => {
        if (slot.inflight === request) slot.inflight = undefined;
        if (generation === slot.generation && !this.#closer.signal.aborted) this.#keep(slot, token, sentAt);
        this.#events.emit('token', () => ({
          clientId: this.#options.clientId,
          key: describeKey(slot.params),
          fingerprint: fingerprint(token.accessToken),
          expiresAt: token.expiresAt,
          duration: Date.now() - started,
          attempts,
          source: attempts === 0 ? 'store' : 'server',
          background,
        }));
        return token;
      },
      (cause: unknown) => {
        if (slot.inflight === request) slot.inflight = undefined;
        const error = asTokenError(cause);
        // Requests abandoned by close() are not failures worth reporting.
        if (!this.#closer.signal.aborted) {
          this.#events.emit('error', () => ({
            clientId: this.#options.clientId,
            operation: 'token',
            key: describeKey(slot.params),
            error,
            background,
          }));
        }
        // A failed background refresh: keep serving the current token and try again a little later.
        const now = Date.now();
        if (slot.token !== undefined && now < slot.usableUntil) {
          slot.refreshAt = now + Math.min(this.#options.retry.maxDelay, Math.max(10, (slot.usableUntil - now) / 4));
        }
        throw error;
      },
    );
    slot.inflight = request;
    request.catch(noop);
    return request;
  }

  #keep(slot: Slot, token: HeldToken, sentAt: number): void {
    const { expiryMargin, refreshRatio, refreshJitter } = this.#options;
    const lifetime = token.expiresAt - sentAt;
    slot.usableUntil = usableUntil(token, sentAt, expiryMargin);
    const refreshAt = sentAt + (slot.usableUntil - sentAt) * refreshRatio - Math.random() * refreshJitter * lifetime;
    slot.refreshAt = Math.max(sentAt, refreshAt);
    slot.token = token;
    slot.resolved = Promise.resolve(token);
  }

  /** After a 401: drops the token from its slot and, if it is still there, from the store. */
  #invalidate(token: HeldToken): void {
    for (const slot of this.#allSlots()) {
      if (slot.token !== token) continue;
      clearSlot(slot);
      slot.discarded = token.accessToken;
      const store = this.#store;
      if (store !== undefined) void this.#storeCall(() => store.delete(this.#storeKey(slot), token.accessToken));
    }
  }

  /** The slot's key in the store: a hash of where and for whom the token is, never a secret. */
  #storeKey(slot: Slot): string {
    const { tokenEndpoint, issuer, clientId, extraParams } = this.#options;
    slot.storeKey ??= createHash('sha256')
      .update(JSON.stringify([tokenEndpoint?.href ?? issuer, clientId, slot.key, extraParams, this.#binding ?? null]))
      .digest('base64url');
    return slot.storeKey;
  }

  /**
   * Runs a token store call within {@link STORE_TIMEOUT}. A failure or timeout bypasses the store for
   * {@link STORE_BYPASS} ms (reported as an `error` event) and yields {@link STORE_FAILED}: the store is
   * an optimisation, never a reason to fail.
   */
  async #storeCall<T>(call: () => Promise<T>): Promise<T | typeof STORE_FAILED> {
    if (Date.now() < this.#storeBypassedUntil) return STORE_FAILED;
    let timer: NodeJS.Timeout | undefined;
    try {
      return await Promise.race([
        call(),
        new Promise<never>((_, reject) => {
          timer = setTimeout(() => reject(new Error(`no answer within ${STORE_TIMEOUT} ms`)), STORE_TIMEOUT);
          timer.unref?.();
        }),
      ]);
    } catch (error) {
      this.#storeBypassedUntil = Date.now() + STORE_BYPASS;
      this.#events.emit('error', () => ({
        clientId: this.#options.clientId,
        operation: 'store',
        key: undefined,
        error: new TokenError('NETWORK', `token store failed, bypassed for ${STORE_BYPASS} ms: ${(error as Error)?.message ?? 'unknown error'}`, {
          cause: error,
        }),
        background: true,
      }));
      return STORE_FAILED;
    } finally {
      clearTimeout(timer);
    }
  }

  /**
   * Gets the slot a token: a newer one from the store if another process (or client) already has it,
   * otherwise from the token endpoint — under the store's lock when it has one, so that one process in
   * the fleet asks while the others wait for its result (bounded by `timeout`, then they ask themselves).
   */
  async #acquire(slot: Slot, background: boolean, force: boolean): Promise<Issued> {
    const store = this.#store;
    if (store === undefined) return this.#requestToken(slot.params, background);
    const key = this.#storeKey(slot);
    const replacing = slot.token;
    const generation = slot.generation;
    const fromStore = async (): Promise<Issued | undefined> => {
      const stored = await this.#storeCall(() => store.get(key));
      if (stored === STORE_FAILED || stored === undefined) return undefined;
      if (stored.accessToken === slot.discarded || this.#revoked.has(stored.accessToken)) return undefined;
      if (replacing !== undefined && stored.expiresAt <= replacing.expiresAt) return undefined;
      const token = createToken(stored);
      if (usableUntil(token, stored.sentAt, this.#options.expiryMargin) <= Date.now()) return undefined;
      return { token, sentAt: stored.sentAt, attempts: 0 };
    };
    const requestAndShare = async (): Promise<Issued> => {
      const issued = await this.#requestToken(slot.params, background);
      const { token, sentAt } = issued;
      // Not shared if revocation or close intervened while it was requested (see #refresh).
      if (generation === slot.generation && !this.#closer.signal.aborted) {
        const stored: StoredToken = { ...token, accessToken: token.accessToken, sentAt };
        await this.#storeCall(() => store.set(key, stored, token.expiresAt - Date.now()));
      }
      return issued;
    };

    // forceRefresh asks the token endpoint, whatever the store holds.
    if (force) return requestAndShare();
    const found = await fromStore();
    if (found !== undefined) return found;
    if (store.lock === undefined) return requestAndShare();
    // The lock lives `timeout`; waiters wait a little longer, so that when a holder dies one of them
    // takes the expired lock and the others adopt its token instead of all asking at once.
    const deadline = Date.now() + this.#options.timeout + STORE_WAIT_GRACE;
    for (;;) {
      const lock: TokenStoreLock | undefined | typeof STORE_FAILED = await this.#storeCall(() => store.lock!(key, this.#options.timeout));
      if (lock === STORE_FAILED) return requestAndShare();
      if (lock !== undefined) {
        try {
          return (await fromStore()) ?? (await requestAndShare());
        } finally {
          void this.#storeCall(() => lock.release());
        }
      }
      // Another process is refreshing: wait for its token, or for the lock to come free.
      if (Date.now() >= deadline) return requestAndShare();
      await sleep(STORE_POLL, this.#closer.signal, background);
      const shared = await fromStore();
      if (shared !== undefined) return shared;
    }
  }

  *#allSlots(): Generator<Slot> {
    yield this.#defaultSlot;
    yield* this.#pinned.values();
    yield* this.#slots.values();
  }

  async #requestToken(params: TokenParams, background: boolean): Promise<Issued> {
    const endpoint = this.#options.tokenEndpoint ?? (await this.#discovered()).token;
    const { clientId, extraParams, defaultLifetime, expiryMargin } = this.#options;
    const scope = params.scope.length > 0 ? params.scope.join(' ') : undefined;
    return withRetry(
      async (attempts) => {
        const failure = this.#invalidClient;
        if (failure !== undefined && Date.now() < failure.until) throw failure.error;
        const body = new URLSearchParams({ grant_type: 'client_credentials' });
        if (scope !== undefined) body.set('scope', scope);
        if (params.audience !== undefined) body.set('audience', params.audience);
        for (const resource of params.resource) body.append('resource', resource);
        for (const [name, value] of Object.entries(extraParams)) body.set(name, value);
        const audience = () => this.#assertionAudience(endpoint);
        // DPoP: one more request when the server asks for a nonce (RFC 9449 §8), not counted as a retry.
        let sentAt: number;
        let result: HttpResult;
        for (let nonceRetry = 0; ; nonceRetry++) {
          const headers: Record<string, string> = {
            'content-type': 'application/x-www-form-urlencoded',
            accept: 'application/json',
          };
          const authenticating = applyClientAuth(this.#credentials, body, headers, audience);
          if (authenticating !== undefined) await authenticating;
          if (this.#dpop !== undefined) headers.dpop = await this.#dpop.proof('POST', endpoint);
          sentAt = Date.now();
          result = await send(endpoint, { method: 'POST', headers, body: body.toString() }, this.#sendOptions);
          await loadSchemas();
          const newNonce = this.#dpop?.observe(endpoint, result.headers, headers.dpop) ?? false;
          if (nonceRetry > 0 || !newNonce || result.status !== 400 || parseOAuthError(result)?.error !== 'use_dpop_nonce') break;
        }
        let token: HeldToken;
        try {
          token = processTokenResponse(result, { sentAt, defaultLifetime, requestedScope: scope, secrets: this.#secrets });
        } catch (error) {
          if (error instanceof OAuthError && error.error === 'invalid_client') {
            this.#invalidClient = { error, until: Date.now() + this.#options.invalidClientBackoff };
          }
          throw error;
        }
        const lifetime = token.expiresAt - sentAt;
        if (usableUntil(token, sentAt, expiryMargin) <= Date.now()) {
          throw new TokenError('INVALID_RESPONSE', `token for ${clientId} expired before it could be used (lifetime ${lifetime} ms)`, {
            status: result.status,
          });
        }
        if (this.#revoked.has(token.accessToken)) {
          throw new TokenError('INVALID_RESPONSE', 'the authorization server issued a token that was revoked', { status: result.status });
        }
        return { token, sentAt, attempts };
      },
      this.#options.retry,
      { signal: this.#closer.signal, background, onRetry: this.#onRetry('token') },
    );
  }

  /**
   * The `aud` of client assertions: the issuer identifier (from the metadata once discovered), or the
   * token endpoint URL when asked for or when no issuer is known.
   */
  async #assertionAudience(tokenEndpoint: URL): Promise<string> {
    const { assertionAudience, issuer } = this.#options;
    if (assertionAudience === 'token_endpoint' || issuer === undefined) return tokenEndpoint.href;
    return this.#endpoints === undefined ? issuer : (await this.#endpoints).metadata.issuer;
  }

  /** Endpoints from discovery, fetched once and shared; a failure is not kept. */
  #discovered(signal: AbortSignal = this.#closer.signal): Promise<Endpoints> {
    if (this.#endpoints === undefined) {
      const request = this.#discover(signal);
      this.#endpoints = request;
      request.catch(() => {
        if (this.#endpoints === request) this.#endpoints = undefined;
      });
    }
    return this.#endpoints;
  }

  async #discover(signal: AbortSignal): Promise<Endpoints> {
    const { issuer, allowInsecureHttp, tokenEndpoint, revocationEndpoint, retry } = this.#options;
    const options = { ...this.#sendOptions, signal };
    const get = (url: URL) =>
      withRetry(
        async () => {
          const result = await send(url, { method: 'GET', headers: { accept: 'application/json' } }, options);
          await loadSchemas();
          if (result.status >= 500 || result.status === 429) throw errorFromResponse(result, `discovery at ${url.href}`, this.#secrets);
          return result;
        },
        retry,
        { signal, onRetry: this.#onRetry('discovery') },
      );
    const metadata = await discover(issuer!, get, this.#options.issuerFromUrl, this.#secrets);
    // With a client certificate, the mutual-TLS aliases (RFC 8705 §5) take precedence.
    const aliases = this.#options.tls === undefined ? undefined : metadata.mtls_endpoint_aliases;
    const endpoint = (name: 'token_endpoint' | 'revocation_endpoint') => {
      const value = aliases?.[name] ?? metadata[name];
      if (value === undefined) return undefined;
      try {
        return parseEndpoint(name, value, allowInsecureHttp);
      } catch (error) {
        throw new TokenError('INVALID_RESPONSE', `metadata of ${issuer}: ${(error as Error).message}`);
      }
    };
    const token = tokenEndpoint ?? endpoint('token_endpoint');
    if (token === undefined) throw new TokenError('INVALID_RESPONSE', `metadata of ${issuer} has no token_endpoint`);
    return { token, revocation: revocationEndpoint ?? endpoint('revocation_endpoint'), metadata };
  }

  async #revocationEndpoint(signal: AbortSignal): Promise<URL> {
    const { revocationEndpoint, issuer } = this.#options;
    const endpoint = revocationEndpoint ?? (issuer === undefined ? undefined : (await this.#discovered(signal)).revocation);
    if (endpoint === undefined) {
      throw new TokenError('CONFIG', 'no revocation endpoint: set `revocationEndpoint`, or an `issuer` whose metadata has one');
    }
    return endpoint;
  }

  /** Forgets every held token and makes requests in flight unable to fill the cache. */
  #forgetAll(): Held[] {
    const held: Held[] = [];
    for (const slot of this.#allSlots()) {
      if (slot.token !== undefined) held.push({ value: slot.token.accessToken, storeKey: this.#storeKey(slot) });
      slot.generation++;
      slot.inflight = undefined;
      clearSlot(slot);
    }
    for (const { value } of held) this.#rememberRevoked(value);
    return held;
  }

  #forget(value: string): Held[] {
    const held: Held[] = [];
    for (const slot of this.#allSlots()) {
      if (slot.token?.accessToken !== value) continue;
      held.push({ value, storeKey: this.#storeKey(slot) });
      clearSlot(slot);
    }
    this.#rememberRevoked(value);
    return held.length > 0 ? held : [{ value, storeKey: undefined }];
  }

  /** Deletes revoked tokens from the store, where they are still the stored ones. */
  async #unshare(held: readonly Held[]): Promise<void> {
    const store = this.#store;
    if (store === undefined) return;
    await Promise.all(held.map(({ value, storeKey }) => storeKey !== undefined && this.#storeCall(() => store.delete(storeKey, value))));
  }

  #rememberRevoked(value: string): void {
    this.#revoked.add(value);
    if (this.#revoked.size > MAX_REVOKED_REMEMBERED) this.#revoked.delete(this.#revoked.values().next().value!);
  }

  /** Revokes each value in parallel; resolves with the errors of those that failed. */
  async #revokeAll(endpoint: URL, values: readonly string[], signal: AbortSignal | undefined): Promise<TokenError[]> {
    const options = { ...this.#sendOptions, signal };
    const results = await Promise.allSettled(
      values.map(async (token) => {
        const started = Date.now();
        const revocation = withRetry(
          async () => {
            const body = new URLSearchParams({ token, token_type_hint: 'access_token' });
            const headers: Record<string, string> = {
              'content-type': 'application/x-www-form-urlencoded',
              accept: 'application/json',
            };
            // The assertion's audience is the same as at the token endpoint: the issuer, or the token
            // endpoint URL (discovered only when that is asked for and not configured).
            const { tokenEndpoint, assertionAudience } = this.#options;
            await applyClientAuth(this.#credentials, body, headers, async () =>
              this.#assertionAudience(tokenEndpoint ?? (assertionAudience === 'token_endpoint' ? (await this.#discovered(signal)).token : endpoint)),
            );
            const result: HttpResult = await send(endpoint, { method: 'POST', headers, body: body.toString() }, options);
            await loadSchemas();
            // The token being revoked is redacted too: a server may name it in its error_description.
            if (result.status < 200 || result.status > 299) {
              throw errorFromResponse(result, 'revocation', [token, new URLSearchParams({ token }).toString().slice(6), ...this.#secrets]);
            }
          },
          this.#options.retry,
          { signal, onRetry: this.#onRetry('revoke') },
        );
        const outcome = await revocation.then(
          () => undefined,
          (error: unknown) => asTokenError(error),
        );
        this.#events.emit('revoke', () => ({
          clientId: this.#options.clientId,
          fingerprint: fingerprint(token),
          ok: outcome === undefined,
          error: outcome,
          duration: Date.now() - started,
        }));
        if (outcome !== undefined) throw outcome;
      }),
    );
    return results.flatMap((r) => (r.status === 'rejected' ? [asTokenError(r.reason)] : []));
  }

  #onRetry(operation: 'token' | 'revoke' | 'discovery'): (info: RetryInfo) => void {
    return ({ attempt, delay, error }) =>
      this.#events.emit('retry', () => ({
        clientId: this.#options.clientId,
        operation,
        attempt,
        delay,
        reason: error.code,
        status: error.status,
      }));
  }

  async #close(options: CloseOptions): Promise<CloseResult> {
    const held = this.#forgetAll();
    this.#closer.abort(new TokenError('CLOSED', 'the client was closed'));
    try {
      return await this.#revokeOnClose(held, options);
    } finally {
      await this.#mtls?.close().catch(noop);
    }
  }

  async #revokeOnClose(held: readonly Held[], { revoke = false, timeout = CLOSE_TIMEOUT, revokeShared = false }: CloseOptions): Promise<CloseResult> {
    const values = [...new Set(held.map((h) => h.value))];
    if (!revoke || values.length === 0) return { revoked: 0, errors: [], skipped: 0 };
    if (this.#store?.shared === true && !revokeShared) return { revoked: 0, errors: [], skipped: values.length };
    const deadline = new AbortController();
    const timer = setTimeout(
      () => deadline.abort(new TokenError('TIMEOUT', `revocation on close did not finish within ${timeout} ms`)),
      timeout,
    );
    timer.unref?.();
    try {
      const endpoint = await this.#revocationEndpoint(deadline.signal);
      await this.#unshare(held);
      const errors = await this.#revokeAll(endpoint, values, deadline.signal);
      return { revoked: values.length - errors.length, errors, skipped: 0 };
    } catch (error) {
      return { revoked: 0, errors: [asTokenError(error)], skipped: 0 };
    } finally {
      clearTimeout(timer);
    }
  }
}

/** A readable description of what a token is for, for events and logs. */
function describeKey({ scope, audience, resource }: TokenParams): string {
  const parts: string[] = [];
  if (scope.length > 0) parts.push(`scope=${scope.join(' ')}`);
  if (audience !== undefined) parts.push(`audience=${audience}`);
  if (resource.length > 0) parts.push(`resource=${resource.join(' ')}`);
  return parts.join(' ');
}

/** The last instant a token is handed out: expiry minus the margin (a tenth of the lifetime if smaller). */
function usableUntil(token: Token, sentAt: number, expiryMargin: number): number {
  return token.expiresAt - Math.min(expiryMargin, (token.expiresAt - sentAt) / 10);
}


function nextTurn(): Promise<void> {
  return new Promise((resolve) => setImmediate(resolve));
}

function clearSlot(slot: Slot): void {
  slot.token = undefined;
  slot.resolved = undefined;
  slot.usableUntil = 0;
  slot.refreshAt = 0;
}

function aborted(signal: AbortSignal): TokenError {
  return new TokenError('ABORTED', 'the caller aborted its wait for a token', { cause: signal.reason });
}

function asTokenError(error: unknown): TokenError {
  return TokenError.is(error) ? error : new TokenError('NETWORK', 'unexpected failure', { cause: error });
}
