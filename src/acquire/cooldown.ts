import type { Acquire } from '../cache/token-entry.js';
import { abortedError, TokenError } from '../errors.js';
import { sleep } from '../util/abort.js';
import type { Clock } from '../util/clock.js';
import { type GuardedStore, STORE_FAILED } from './shared-store.js';

/**
 * The fleet-wide cooldown after the token endpoint answers 429, or 503 with `Retry-After`: no token
 * request is sent to it (by any process sharing the `store`) until the cooldown ends.
 */
export interface CooldownOptions {
  /**
   * Longest cooldown, in ms, whatever `Retry-After` asks: a hostile `Retry-After: 86400` must not
   * silence the fleet for a day. `0` turns the cooldown off.
   * @default 60000
   */
  max?: number | undefined;
  /**
   * Cooldown after a 429 without a usable `Retry-After`, in ms (at most `max`).
   * @default 30000
   */
  default429?: number | undefined;
}

/** The cooldown policy, as resolved from the `cooldown` option. */
export interface CooldownPolicy {
  /** Longest cooldown, in ms, whatever `Retry-After` asks (a hostile `Retry-After: 86400` is cut to this). */
  readonly max: number;
  /** Cooldown after a 429 without a usable `Retry-After`, in ms. */
  readonly default429: number;
}

/** The defaults of the `cooldown` option. */
export const COOLDOWN_DEFAULTS: CooldownPolicy = Object.freeze({ max: 60_000, default429: 30_000 });

/**
 * How long the fleet stays away from the token endpoint after `error`, in ms: a 429 or 503 with
 * `Retry-After` asks for that long, a 429 without one for `default429`; capped at `max`. `undefined` for
 * any other failure (a 503 without `Retry-After` is an ordinary transient failure).
 */
export function cooldownFor(error: unknown, policy: CooldownPolicy): number | undefined {
  if (!TokenError.is(error) || (error.status !== 429 && error.status !== 503)) return undefined;
  const asked = error.retryAfter ?? (error.status === 429 ? policy.default429 : undefined);
  const ms = Math.min(asked ?? 0, policy.max);
  return ms > 0 ? ms : undefined;
}

/** The error of a token request refused during a cooldown, `ms` before it ends. */
export function cooldownError(ms: number): TokenError {
  const left = Math.max(1, Math.ceil(ms));
  return new TokenError('COOLDOWN', `the token endpoint asked clients to back off: no token request for another ${left} ms`, {
    retryAfter: left,
  });
}

/**
 * The cooldown of one token endpoint and client: kept on this process's monotonic clock and, when the
 * store supports it, shared with the fleet through the store as a wall-clock instant.
 */
export class Cooldown {
  readonly #store: GuardedStore | undefined;
  readonly #key: string;
  readonly #policy: CooldownPolicy;
  readonly #clock: Clock;
  /** Monotonic end of the cooldown this process knows of. */
  #until = -Infinity;
  #writing: Promise<unknown> | undefined;
  readonly #seen = new WeakSet<object>();

  constructor(store: GuardedStore | undefined, key: string, policy: CooldownPolicy, clock: Clock) {
    this.#store = store?.store.getCooldown !== undefined && store.store.setCooldown !== undefined ? store : undefined;
    this.#key = key;
    this.#policy = policy;
    this.#clock = clock;
  }

  /** True when the cooldown is shared through the store. */
  get shared(): boolean {
    return this.#store !== undefined;
  }

  /**
   * Records the cooldown `error` asks for, if any (once per error), locally at once and in the store in
   * the background (see {@link Cooldown.flush}). Returns whether it asked for one.
   */
  observe(error: unknown): boolean {
    const ms = cooldownFor(error, this.#policy);
    if (ms === undefined) return false;
    if (this.#seen.has(error as object)) return true;
    this.#seen.add(error as object);
    this.#until = Math.max(this.#until, this.#clock.now() + ms);
    const until = this.#clock.wall() + ms;
    this.#writing = this.#store?.call((s) => s.setCooldown!(this.#key, until, ms));
    return true;
  }

  /** Resolves once the last cooldown observed is in the store (or the store failed). */
  async flush(): Promise<void> {
    await this.#writing;
  }

  /** Ms left of the cooldown: this process's own knowledge first, then the store's (at most `max`). */
  async remaining(): Promise<number> {
    const local = this.#until - this.#clock.now();
    if (local > 0 || this.#store === undefined) return Math.max(0, local);
    const until = await this.#store.call((s) => s.getCooldown!(this.#key));
    if (until === STORE_FAILED || typeof until !== 'number' || !Number.isFinite(until)) return 0;
    const left = Math.min(until - this.#clock.wall(), this.#policy.max);
    if (left <= 0) return 0;
    this.#until = this.#clock.now() + left;
    return left;
  }
}

/**
 * Decorates `acquire` with the cooldown: no token request while it lasts (the request fails with
 * `COOLDOWN` at once, its `retryAfter` the wait left), and a 429/503 answer starts one, written to the
 * store before the request ends (so before a store lock is released: the next holder sees it).
 */
export function withCooldown(acquire: Acquire, cooldown: Cooldown): Acquire {
  return async (request) => {
    const left = await cooldown.remaining();
    if (left > 0) throw cooldownError(left);
    try {
      return await acquire(request);
    } catch (error) {
      if (cooldown.observe(error)) await cooldown.flush();
      throw error;
    }
  };
}

/**
 * `getToken({ waitForCooldown: true })`: after a `COOLDOWN` refusal, or a 429/503 answer that started a
 * cooldown, waits for it to end and calls `get` again, until `signal` aborts (`ABORTED`); without a
 * signal, waits at most `policy.max` ms in all (then the last error is thrown).
 */
export async function waitingOutCooldown<T>(
  get: () => Promise<T>,
  signal: AbortSignal | undefined,
  clock: Clock,
  policy: CooldownPolicy,
): Promise<T> {
  const deadline = signal === undefined ? clock.now() + policy.max : Infinity;
  for (;;) {
    try {
      return await get();
    } catch (error) {
      const wait = TokenError.is(error) && error.code === 'COOLDOWN' ? error.retryAfter : cooldownFor(error, policy);
      if (wait === undefined || clock.now() + wait > deadline) throw error;
      try {
        await sleep(wait, signal, false);
      } catch {
        throw abortedError(signal!);
      }
    }
  }
}

/** Validates the `cooldown` option. Throws a `TypeError` naming the field. */
export function resolveCooldown(value: unknown): CooldownPolicy {
  if (value === undefined) return COOLDOWN_DEFAULTS;
  if (typeof value !== 'object' || value === null)
    throw new TypeError('m2m-token: option `cooldown` must be an object { max, default429 }');
  const { max = COOLDOWN_DEFAULTS.max, default429 = COOLDOWN_DEFAULTS.default429, ...rest } = value as Record<string, unknown>;
  const unknown = Object.keys(rest)[0];
  if (unknown !== undefined) throw new TypeError(`m2m-token: unknown option \`cooldown.${unknown}\``);
  for (const [name, n] of [
    ['max', max],
    ['default429', default429],
  ] as const) {
    if (typeof n !== 'number' || !Number.isInteger(n) || n < 0 || n > 2_147_483_647) {
      throw new TypeError(`m2m-token: option \`cooldown.${name}\` must be a non-negative integer of ms`);
    }
  }
  return { max: max as number, default429: Math.min(default429 as number, max as number) };
}
