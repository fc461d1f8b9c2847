import type { Acquire } from '../cache/token-entry.js';
import { TokenError } from '../errors.js';
import type { Clock } from '../util/clock.js';
import { type GuardedStore, STORE_FAILED } from './shared-store.js';

/** The issuance budget: most token requests per window, for the whole fleet when the store counts them. */
export interface BudgetOptions {
  /** Most token requests per window. */
  limit: number;
  /** The window, in ms (a fixed window from its first request). */
  per: number;
}

/** The issuance budget, as resolved from the `budget` option. */
export interface BudgetPolicy {
  /** Most token requests per window, for the whole fleet when the store counts them. */
  readonly limit: number;
  /** The window, in ms. */
  readonly per: number;
}

/** The share of the budget from which every token request emits a warning `budget` event. */
export const BUDGET_WARNING = 0.8;

/** What a `budget` event says. */
export interface BudgetUsage {
  /** Token requests sent in the current window (at most `limit`). */
  readonly used: number;
  readonly limit: number;
  readonly per: number;
  /** True when a token request was refused: the budget is spent until the window ends. */
  readonly exhausted: boolean;
}

/**
 * Decorates `acquire` with the issuance budget: each token request is counted (in the store when it
 * counts, else in this process) before it is sent; past `limit` in the window the request fails with
 * `BUDGET` (its `retryAfter` the time until the window ends) and nothing is sent. From
 * {@link BUDGET_WARNING} of the budget on, `onUsage` hears of every request, and of every refusal.
 */
export function withBudget(
  acquire: Acquire,
  budget: BudgetPolicy,
  options: {
    readonly store: GuardedStore | undefined;
    readonly key: string;
    readonly clock: Clock;
    readonly onUsage: (usage: BudgetUsage) => void;
  },
): Acquire {
  const { limit, per } = budget;
  const { store, key, clock } = options;
  const shared = store?.store.incrementBudget !== undefined ? store : undefined;
  let local = { count: 0, resetAt: -Infinity };
  const take = async (): Promise<{ count: number; resetIn: number }> => {
    const counted = await shared?.call((s) => s.incrementBudget!(key, per));
    if (counted !== undefined && counted !== STORE_FAILED && Number.isFinite(counted.count)) return counted;
    const now = clock.now();
    if (now >= local.resetAt) local = { count: 0, resetAt: now + per };
    local.count++;
    return { count: local.count, resetIn: local.resetAt - now };
  };
  return async (request) => {
    const { count, resetIn } = await take();
    const exhausted = count > limit;
    if (count >= limit * BUDGET_WARNING) options.onUsage({ used: Math.min(count, limit), limit, per, exhausted });
    if (exhausted) {
      const wait = Math.max(1, Math.ceil(resetIn));
      throw new TokenError(
        'BUDGET',
        `the issuance budget of ${limit} token requests per ${per} ms is spent; the window ends in ${wait} ms`,
        { retryAfter: wait },
      );
    }
    return acquire(request);
  };
}

/** Validates the `budget` option. Throws a `TypeError` naming the field. */
export function resolveBudget(value: unknown): BudgetPolicy | undefined {
  if (value === undefined) return undefined;
  if (typeof value !== 'object' || value === null) throw new TypeError('m2m-token: option `budget` must be an object { limit, per }');
  const { limit, per, ...rest } = value as Record<string, unknown>;
  const unknown = Object.keys(rest)[0];
  if (unknown !== undefined) throw new TypeError(`m2m-token: unknown option \`budget.${unknown}\``);
  if (typeof limit !== 'number' || !Number.isInteger(limit) || limit < 1)
    throw new TypeError('m2m-token: option `budget.limit` must be a positive integer');
  if (typeof per !== 'number' || !Number.isInteger(per) || per < 1 || per > 2_147_483_647) {
    throw new TypeError('m2m-token: option `budget.per` must be a positive integer of ms');
  }
  return { limit, per };
}
