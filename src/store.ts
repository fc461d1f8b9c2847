import type { StoredToken } from './token.js';
import { BoundedMap } from './util/bounded-map.js';

export type { StoredToken };

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
}

/**
 * The default {@link TokenStore}: a bounded map in this process. Clients given the same instance share
 * tokens (and single flight) within the process.
 */
export class MemoryTokenStore implements TokenStore {
  readonly shared = false;
  // TTLs and lock lives are local durations: on the monotonic clock.
  readonly #tokens: BoundedMap<string, { token: StoredToken; until: number }>;
  readonly #locks = new Map<string, { fencingToken: number; until: number }>();
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
