/**
 * A `Map` with a capacity: setting a new key beyond it drops the least recently set (or touched) one.
 * One implementation for every bounded memory of the client: cache entries, revoked tokens, DPoP
 * nonces, the in-memory token store.
 */
export class BoundedMap<K, V> extends Map<K, V> {
  readonly #capacity: number;
  readonly #onEvict: ((key: K, value: V) => void) | undefined;

  constructor(capacity: number, onEvict?: (key: K, value: V) => void) {
    super();
    this.#capacity = capacity;
    this.#onEvict = onEvict;
  }

  /** Sets `key` as the most recent entry, dropping the oldest one when over capacity. */
  override set(key: K, value: V): this {
    super.delete(key);
    super.set(key, value);
    if (this.size > this.#capacity) {
      const [oldest, evicted] = super.entries().next().value as [K, V];
      super.delete(oldest);
      this.#onEvict?.(oldest, evicted);
    }
    return this;
  }

  /** The value of `key`, marked most recently used. */
  touch(key: K): V | undefined {
    const value = super.get(key);
    if (value !== undefined) {
      super.delete(key);
      super.set(key, value);
    }
    return value;
  }
}
