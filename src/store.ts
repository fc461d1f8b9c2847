import type { StoredToken } from './token.js';
import { BoundedMap } from './util/bounded-map.js';
import { tokenFingerprint } from './util/fingerprint.js';

export type { StoredToken };
export { tokenFingerprint };

/**
 * Told of a token deleted because it is no good any more ({@link TokenStore.onInvalidate}): the store
 * key and the token's {@link tokenFingerprint}, never the token.
 */
export type InvalidationListener = (key: string, fingerprint: string) => void;

/** What {@link TokenStore.incrementBudget} resolves with. */
export interface BudgetCount {
  /** Token requests counted in the current window, this one included. */
  readonly count: number;
  /** Ms left in the current window. */
  readonly resetIn: number;
}

/** A held lock of a {@link TokenStore}. */
export interface TokenStoreLock {
  /** A number that grows with every lock ever granted for the key: tells holders apart. */
  readonly fencingToken: number;
  /** Releases the lock if this holder still owns it; a lock that expired or was taken over is left alone. */
  release(): Promise<void>;
}

/**
 * Where a client keeps tokens beyond its own memory, to share them — across clients of a process
 * ({@link MemoryTokenStore}) or across a fleet (`RedisTokenStore` from `m2m-token/redis`).
 *
 * Keys are opaque, derived from a hash of the token endpoint, client id, scope, audience and resource;
 * never from a secret. Implementations must not throw for a missing key. Every call is given a bounded
 * time by the client; a store that fails or is slow is bypassed, never a reason for `getToken()` to fail.
 */
export interface TokenStore {
  /** True when other processes see the same tokens: `close({ revoke: true })` then leaves them alone. */
  readonly shared?: boolean;
  /** The token of `key`, if any. */
  get(key: string): Promise<StoredToken | undefined>;
  /**
   * Stores `token` under `key` for `ttl` ms. Must not replace a token that expires later than `token`
   * (a slow writer must not undo a newer rotation).
   */
  set(key: string, token: StoredToken, ttl: number): Promise<void>;
  /** Deletes the token of `key` if it is still `accessToken` (or whatever it is, without one). */
  delete(key: string, accessToken?: string): Promise<void>;
  /**
   * Takes the refresh lock of `key` for `ttl` ms, or resolves `undefined` when another holder has it.
   * Optional: without it, every process refreshes on its own.
   */
  lock?(key: string, ttl: number): Promise<TokenStoreLock | undefined>;
  /**
   * The end of the cooldown recorded under `key` (wall-clock epoch ms), if one is recorded and its ttl
   * has not passed. Optional: without it (and {@link TokenStore.setCooldown}), cooldowns stay per process.
   */
  getCooldown?(key: string): Promise<number | undefined>;
  /**
   * Records a cooldown under `key` until `until` (wall-clock epoch ms), kept `ttl` ms. Must not shorten a
   * cooldown that ends later.
   */
  setCooldown?(key: string, until: number, ttl: number): Promise<void>;
  /**
   * Counts one token request against the budget `key`: a counter whose window starts with its first
   * increment and lasts `window` ms. Resolves with the count in the current window and the ms left in
   * it. Optional: without it, the issuance budget is counted per process.
   */
  incrementBudget?(key: string, window: number): Promise<BudgetCount>;
  /**
   * Subscribes `listener` to the deletions made with a token (`delete(key, accessToken)`: a client
   * found the token refused, or revoked it) by any client sharing this store, in any process, this one
   * included, whether or not the stored token was still that one. The listener gets the key and the
   * token's {@link tokenFingerprint}; it must not throw (what it throws is ignored).
   *
   * Delivery is at most once and may come late (publish/subscribe: a listener not connected at the time
   * misses it). Optional: without it, an invalidation stays in the process that made it, and other
   * processes hand out their copy of the token until it expires.
   *
   * @returns a function that removes the listener.
   */
  onInvalidate?(listener: InvalidationListener): () => void;
}

/**
 * The default {@link TokenStore}: a bounded map in this process. Clients given the same instance share
 * tokens (and single flight) within the process, and each other's invalidations
 * ({@link TokenStore.onInvalidate}, told on a microtask).
 */
export class MemoryTokenStore implements TokenStore {
  readonly shared = false;
  // TTLs and lock lives are local durations: on the monotonic clock.
  readonly #tokens: BoundedMap<string, { token: StoredToken; until: number }>;
  readonly #locks = new Map<string, { fencingToken: number; until: number }>();
  readonly #cooldowns = new BoundedMap<string, { until: number; expires: number }>(1000);
  readonly #budgets = new BoundedMap<string, { count: number; resetAt: number }>(1000);
  /** One wrapper per subscription, so that one function subscribed twice is removed once per call. */
  readonly #listeners = new Set<{ listener: InvalidationListener }>();
  #fence = 0;

  /** @param options.maxEntries most tokens kept; the oldest entry is dropped beyond it. @default 1000 */
  constructor(options: { maxEntries?: number } = {}) {
    const { maxEntries = 1000 } = options;
    if (!Number.isInteger(maxEntries) || maxEntries < 1) throw new TypeError('m2m-token: option `maxEntries` must be a positive integer');
    this.#tokens = new BoundedMap(maxEntries);
  }

  async get(key: string): Promise<StoredToken | undefined> {
    const entry = this.#tokens.get(key);
    if (entry === undefined) return undefined;
    if (performance.now() < entry.until) return entry.token;
    this.#tokens.delete(key);
    return undefined;
  }

  async set(key: string, token: StoredToken, ttl: number): Promise<void> {
    const current = await this.get(key);
    if (current !== undefined && current.expiresAt > token.expiresAt) return;
    this.#tokens.set(key, { token, until: performance.now() + ttl });
  }

  async delete(key: string, accessToken?: string): Promise<void> {
    const current = this.#tokens.get(key);
    if (current !== undefined && (accessToken === undefined || current.token.accessToken === accessToken)) this.#tokens.delete(key);
    if (accessToken === undefined || this.#listeners.size === 0) return;
    const fingerprint = tokenFingerprint(accessToken);
    const listeners = [...this.#listeners];
    queueMicrotask(() => {
      for (const subscription of listeners) {
        if (!this.#listeners.has(subscription)) continue; // removed meanwhile
        try {
          subscription.listener(key, fingerprint);
        } catch {
          // A listener's failure is its own: the others are still told.
        }
      }
    });
  }

  onInvalidate(listener: InvalidationListener): () => void {
    if (typeof listener !== 'function') throw new TypeError('m2m-token: onInvalidate() takes a function');
    const subscription = { listener };
    this.#listeners.add(subscription);
    return () => {
      this.#listeners.delete(subscription);
    };
  }

  async getCooldown(key: string): Promise<number | undefined> {
    const entry = this.#cooldowns.get(key);
    return entry !== undefined && performance.now() < entry.expires ? entry.until : undefined;
  }

  async setCooldown(key: string, until: number, ttl: number): Promise<void> {
    const current = await this.getCooldown(key);
    if (current !== undefined && current >= until) return;
    this.#cooldowns.set(key, { until, expires: performance.now() + ttl });
  }

  async incrementBudget(key: string, window: number): Promise<BudgetCount> {
    const now = performance.now();
    let entry = this.#budgets.get(key);
    if (entry === undefined || now >= entry.resetAt) {
      entry = { count: 0, resetAt: now + window };
      this.#budgets.set(key, entry);
    }
    entry.count++;
    return { count: entry.count, resetIn: entry.resetAt - now };
  }

  async lock(key: string, ttl: number): Promise<TokenStoreLock | undefined> {
    const now = performance.now();
    const held = this.#locks.get(key);
    if (held !== undefined && now < held.until) return undefined;
    const fencingToken = ++this.#fence;
    this.#locks.set(key, { fencingToken, until: now + ttl });
    return {
      fencingToken,
      release: async () => {
        if (this.#locks.get(key)?.fencingToken === fencingToken) this.#locks.delete(key);
      },
    };
  }
}
