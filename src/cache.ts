import type { HeldToken } from './token.js';

/** What a token is requested for: the parts of the cache key that vary per call. */
export interface TokenParams {
  readonly scope: readonly string[];
  readonly audience: string | undefined;
  readonly resource: readonly string[];
}

/** One cache entry: the current token of a key, its refresh state and its request in flight. */
export interface Slot {
  readonly key: string;
  readonly params: TokenParams;
  token: HeldToken | undefined;
  /** `Promise.resolve(token)`, built once per token so the cached path allocates nothing. */
  resolved: Promise<HeldToken> | undefined;
  /** The token is handed out until this instant (expiry minus margin). */
  usableUntil: number;
  /** From this instant a call starts a background refresh. */
  refreshAt: number;
  inflight: Promise<HeldToken> | undefined;
  /** Bumped by revocation, so that a request already in flight does not fill the slot. */
  generation: number;
  /** The slot's key in the token store, derived once. */
  storeKey: string | undefined;
  /** The last token dropped after a 401: never taken back from the token store. */
  discarded: string | undefined;
}

/** The cache key: scope and resource are sets, so their order does not matter. */
export function cacheKey(params: TokenParams): string {
  return JSON.stringify([[...params.scope].sort(), params.audience ?? null, [...params.resource].sort()]);
}

export function createSlot(params: TokenParams): Slot {
  return {
    key: cacheKey(params),
    params,
    token: undefined,
    resolved: undefined,
    usableUntil: 0,
    refreshAt: 0,
    inflight: undefined,
    generation: 0,
    storeKey: undefined,
    discarded: undefined,
  };
}

/** A least-recently-used map of slots with a fixed capacity. */
export class SlotCache {
  readonly #capacity: number;
  readonly #slots = new Map<string, Slot>();

  constructor(capacity: number) {
    this.#capacity = capacity;
  }

  /** The slot for `params`, created if missing and marked most recently used. */
  get(params: TokenParams, key = cacheKey(params)): Slot {
    let slot = this.#slots.get(key);
    if (slot) {
      this.#slots.delete(key);
    } else {
      slot = createSlot(params);
      if (this.#slots.size >= this.#capacity) this.#slots.delete(this.#slots.keys().next().value!);
    }
    this.#slots.set(key, slot);
    return slot;
  }

  /** Removes and returns the slot of `key`, if any. */
  take(key: string): Slot | undefined {
    const slot = this.#slots.get(key);
    this.#slots.delete(key);
    return slot;
  }

  values(): IterableIterator<Slot> {
    return this.#slots.values();
  }

}
