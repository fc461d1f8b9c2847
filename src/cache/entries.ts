import type { TokenParams } from '../token.js';
import { BoundedMap } from '../util/bounded-map.js';
import { type EntryContext, TokenEntry } from './token-entry.js';

/**
 * The cache key of `params`: scope and resource are sets, so their order does not matter. A discovered
 * authorization server (issuer, token endpoint, DPoP key) is part of it; the key of the client's own
 * server is unchanged, so that stores keep their keys.
 */
export function cacheKey(params: TokenParams): string {
  const key: unknown[] = [[...params.scope].sort(), params.audience ?? null, [...params.resource].sort()];
  const { server } = params;
  if (server !== undefined) key.push([server.issuer, server.tokenEndpoint.href, server.dpop ?? null]);
  return JSON.stringify(key);
}

/**
 * The token entries of one client: the default entry (the client's own scope, audience and resource),
 * entries pinned by `createFetch` wrappers, and a bounded least-recently-used map of the others.
 *
 * A wrapper's entry is never evicted while the wrapper can be called, so its token stays visible to
 * `revoke()` and `close()`. Once every wrapper of a key is garbage-collected, its entry moves back to the
 * bounded map and counts against `maxCacheEntries` (evicting the oldest if need be).
 */
export class TokenEntries {
  readonly default: TokenEntry;
  readonly #context: EntryContext;
  readonly #lru: BoundedMap<string, TokenEntry>;
  readonly #pinned = new Map<string, { readonly entry: TokenEntry; holders: number }>();
  readonly #unpin = new FinalizationRegistry<string>((key) => this.#release(key));

  constructor(defaults: TokenParams, capacity: number, context: EntryContext) {
    this.#context = context;
    this.default = new TokenEntry(cacheKey(defaults), defaults, context);
    this.#lru = new BoundedMap(capacity);
  }

  /** The entry for `params`, created if missing and marked most recently used. */
  get(params: TokenParams): TokenEntry {
    const key = cacheKey(params);
    if (key === this.default.key) return this.default;
    const pinned = this.#pinned.get(key);
    if (pinned !== undefined) return pinned.entry;
    let entry = this.#lru.touch(key);
    if (entry === undefined) {
      entry = new TokenEntry(key, params, this.#context);
      this.#lru.set(key, entry);
    }
    return entry;
  }

  /** The entry for `params`, kept from eviction while `holder` (a fetch wrapper) is reachable. */
  pin(params: TokenParams, holder: object): TokenEntry {
    const key = cacheKey(params);
    if (key === this.default.key) return this.default;
    let pinned = this.#pinned.get(key);
    if (pinned === undefined) {
      const entry = this.#lru.get(key) ?? new TokenEntry(key, params, this.#context);
      this.#lru.delete(key);
      pinned = { entry, holders: 0 };
      this.#pinned.set(key, pinned);
    }
    pinned.holders++;
    this.#unpin.register(holder, key);
    return pinned.entry;
  }

  /** Every entry. */
  *[Symbol.iterator](): IterableIterator<TokenEntry> {
    yield this.default;
    for (const { entry } of this.#pinned.values()) yield entry;
    yield* this.#lru.values();
  }

  #release(key: string): void {
    const pinned = this.#pinned.get(key);
    if (pinned === undefined || --pinned.holders > 0) return;
    this.#pinned.delete(key);
    this.#lru.set(key, pinned.entry);
  }
}
