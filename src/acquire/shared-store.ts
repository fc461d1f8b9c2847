import { nodeCrypto } from '../util/node-crypto.js';
import type { Acquire } from '../cache/token-entry.js';
import { TokenError } from '../errors.js';
import { refreshInOf } from '../protocol/token-response.js';
import type { InvalidationListener, TokenStore, TokenStoreLock } from '../store.js';
import { fromStored, type Issued, toStored } from '../token.js';
import { sleep, withTimeout } from '../util/abort.js';
import type { Clock } from '../util/clock.js';

/** Each token store call gets this long; a store that fails is bypassed for {@link STORE_BYPASS} ms. */
export const STORE_TIMEOUT = 1_000;
export const STORE_BYPASS = 10_000;
/** How often a process waiting for another's refresh looks at the store. */
const STORE_POLL = 25;
/** How much longer than a lock lives a process waits for another's refresh before asking itself. */
const STORE_WAIT_GRACE = 1_000;

/** What a store call that failed, timed out or was skipped while the store is bypassed yields. */
export const STORE_FAILED = Symbol('store failed');

/**
 * A {@link TokenStore} as the client uses it: every call bounded by {@link STORE_TIMEOUT}; a failure or a
 * timeout bypasses the store for {@link STORE_BYPASS} ms (reported through `onFailure`) and yields
 * {@link STORE_FAILED}. The store is an optimisation, never a reason to fail.
 */
export class GuardedStore {
  readonly store: TokenStore;
  readonly #clock: Clock;
  readonly #onFailure: (error: TokenError) => void;
  #bypassedUntil = -Infinity;

  constructor(store: TokenStore, clock: Clock, onFailure: (error: TokenError) => void) {
    this.store = store;
    this.#clock = clock;
    this.#onFailure = onFailure;
  }

  async call<T>(call: (store: TokenStore) => Promise<T>): Promise<T | typeof STORE_FAILED> {
    if (this.#clock.now() < this.#bypassedUntil) return STORE_FAILED;
    try {
      // Promise.resolve: a store written in JavaScript may answer with a plain value.
      return await withTimeout(Promise.resolve(call(this.store)), STORE_TIMEOUT, () => new Error(`no answer within ${STORE_TIMEOUT} ms`));
    } catch (error) {
      this.#bypassedUntil = this.#clock.now() + STORE_BYPASS;
      const message = `token store failed, bypassed for ${STORE_BYPASS} ms: ${(error as Error)?.message ?? 'unknown error'}`;
      this.#onFailure(new TokenError('NETWORK', message, { cause: error }));
      return STORE_FAILED;
    }
  }

  /**
   * Subscribes to the store's invalidations, when it tells of them ({@link TokenStore.onInvalidate}).
   * A store that throws is reported through `onFailure`, on the next microtask (not bypassed), and not followed; what
   * `listener` throws stays here. Returns the function that unsubscribes (never throws).
   */
  onInvalidate(listener: InvalidationListener): () => void {
    if (typeof this.store.onInvalidate !== 'function') return () => {};
    const guarded: InvalidationListener = (key, fingerprint) => {
      try {
        listener(key, fingerprint);
      } catch {
        // The client's own bookkeeping: never the store's problem.
      }
    };
    try {
      const unsubscribe = this.store.onInvalidate(guarded);
      return () => {
        try {
          unsubscribe();
        } catch {
          // Closing goes on.
        }
      };
    } catch (error) {
      this.#reportSubscribeFailure(error);
      return () => {};
    }
  }

  /**
   * Reported on the next microtask: the client subscribes in its constructor, before anyone could listen
   * to its events. A method of its own: a closure over `this` in `onInvalidate` would share its scope
   * with the listener the store keeps, and keep the whole client alive through it.
   */
  #reportSubscribeFailure(error: unknown): void {
    const message = `token store failed to subscribe to invalidations: ${(error as Error)?.message ?? 'unknown error'}`;
    queueMicrotask(() => this.#onFailure(new TokenError('NETWORK', message, { cause: error })));
  }
}

/**
 * A store key: a hash of where and for whom a token is (endpoint, client id, cache key, extra parameters,
 * what it is bound to), never a secret.
 */
export function storeKey(parts: readonly unknown[]): string {
  return nodeCrypto().createHash('sha256').update(JSON.stringify(parts)).digest('base64url');
}

/** What {@link withSharedStore} needs besides the store. */
export interface SharedStoreOptions {
  readonly clock: Clock;
  /** The store key of a cache key. */
  readonly keyOf: (cacheKey: string) => string;
  /** How long a refresh lock lives: one token request's `timeout`. */
  readonly lockTtl: number;
  /** Aborted when the client closes. */
  readonly closed: AbortSignal;
  /** A stored token is not adopted in its last `expiryMargin` ms (a tenth of its lifetime if less). */
  readonly expiryMargin: number;
  /** Tokens this client revoked: never adopted from the store. */
  readonly isRevoked: (accessToken: string) => boolean;
}

/**
 * Decorates `acquire` with a shared store: a newer token from the store when another process (or
 * client) already has one, otherwise one from `acquire` — under the store's lock when it has one, so that
 * one process in the fleet asks while the others wait for its result (bounded by the lock's life plus a
 * grace, then they ask themselves) — shared through the store for the others.
 */
export function withSharedStore(acquire: Acquire, guarded: GuardedStore, options: SharedStoreOptions): Acquire {
  const { clock, closed } = options;
  return async (request) => {
    const { entry, background, force } = request;
    const key = options.keyOf(entry.key);
    const replacing = entry.token;
    const fromStore = async (): Promise<Issued | undefined> => {
      const stored = await guarded.call((store) => store.get(key));
      if (stored === STORE_FAILED) return undefined;
      const adopted = fromStored(stored, clock);
      if (adopted === undefined) return undefined;
      const issued: Issued = { ...adopted, refreshIn: refreshInOf(adopted.token.extra) };
      const value = issued.token.accessToken;
      if (value === entry.discarded || options.isRevoked(value)) return undefined;
      if (replacing !== undefined && issued.token.expiresAt <= replacing.expiresAt) return undefined;
      if (issued.sentAt + issued.lifetime - Math.min(options.expiryMargin, issued.lifetime / 10) <= clock.now()) return undefined;
      return issued;
    };
    const requestAndShare = async (): Promise<Issued> => {
      const issued = await acquire(request);
      // Not shared if revocation or close intervened while it was requested.
      if (request.isCurrent()) {
        await guarded.call((store) => store.set(key, toStored(issued), issued.token.expiresAt - clock.wall()));
      }
      return issued;
    };

    // forceRefresh asks the token endpoint, whatever the store holds.
    if (force) return requestAndShare();
    const found = await fromStore();
    if (found !== undefined) return found;
    const { store } = guarded;
    if (store.lock === undefined) return requestAndShare();
    // The lock lives `lockTtl`; waiters wait a little longer, so that when a holder dies one of them
    // takes the expired lock and the others adopt its token instead of all asking at once.
    const deadline = clock.now() + options.lockTtl + STORE_WAIT_GRACE;
    for (;;) {
      const lock: TokenStoreLock | undefined | typeof STORE_FAILED = await guarded.call((s) => s.lock!(key, options.lockTtl));
      if (lock === STORE_FAILED) return requestAndShare();
      if (lock !== undefined) {
        try {
          return (await fromStore()) ?? (await requestAndShare());
        } finally {
          void guarded.call(() => lock.release());
        }
      }
      // Another process is refreshing: wait for its token, or for the lock to come free.
      if (clock.now() >= deadline) return requestAndShare();
      await sleep(STORE_POLL, closed, background);
      const shared = await fromStore();
      if (shared !== undefined) return shared;
    }
  };
}
