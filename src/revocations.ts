import type { GuardedStore } from './acquire/shared-store.js';
import type { Acquire } from './cache/token-entry.js';
import type { TokenEntries } from './cache/entries.js';
import { asTokenError, TokenError } from './errors.js';
import { type Events, fingerprint } from './events.js';
import { type RevocationConfig, revokeToken } from './protocol/revocation.js';
import { REFRESH_TOKEN } from './token.js';
import type { Clock } from './util/clock.js';
import { BoundedMap } from './util/bounded-map.js';

/** How many revoked tokens a client remembers, to refuse them if a server or store hands them back. */
const MAX_REVOKED_REMEMBERED = 1000;

/** A token the client held, and its key in the store. */
export interface Held {
  readonly value: string;
  readonly storeKey: string | undefined;
  /**
   * It comes from an authorization server found by resource discovery: never sent to the client's own
   * revocation endpoint (that would hand it to another server); forgotten only.
   */
  readonly discovered?: boolean | undefined;
  /** The refresh token that came with it: revoked with it, never stored. */
  readonly refreshToken?: string | undefined;
}

/** The distinct values of held tokens that may be revoked at the client's own revocation endpoint. */
export function revocable(held: readonly Held[]): string[] {
  return [...new Set(held.filter((h) => h.discovered !== true).map((h) => h.value))];
}

/** The refresh tokens of held tokens, by access token. */
export function refreshTokensOf(held: readonly Held[]): ReadonlyMap<string, string> {
  return new Map(held.flatMap(({ value, refreshToken }) => (refreshToken === undefined ? [] : [[value, refreshToken] as const])));
}

/** What revocation needs from the rest of the client. */
export interface RevocationDeps {
  readonly clientId: string;
  readonly entries: TokenEntries;
  readonly store: GuardedStore | undefined;
  readonly keyOf: (cacheKey: string) => string;
  readonly events: Events;
  readonly clock: Clock;
}

/**
 * Revocation bookkeeping (RFC 7009): which tokens are forgotten and remembered as revoked, their removal
 * from a shared store, and the revocation requests with their events.
 */
export class Revocations {
  readonly #deps: RevocationDeps;
  readonly #revoked = new BoundedMap<string, true>(MAX_REVOKED_REMEMBERED);

  constructor(deps: RevocationDeps) {
    this.#deps = deps;
  }

  /** True for a token this client revoked. */
  isRevoked(value: string): boolean {
    return this.#revoked.has(value);
  }

  /** Decorates `acquire`: a token this client revoked is refused if a server hands it out again. */
  refuseRevoked(acquire: Acquire): Acquire {
    return async (request) => {
      const issued = await acquire(request);
      if (this.#revoked.has(issued.token.accessToken)) {
        throw new TokenError('INVALID_RESPONSE', 'the authorization server issued a token that was revoked', { status: 200 });
      }
      return issued;
    };
  }

  /** Forgets every held token (requests in flight can no longer fill the cache) and returns them. */
  forgetAll(): Held[] {
    const held: Held[] = [];
    for (const entry of this.#deps.entries) {
      const token = entry.clear();
      const discovered = entry.params.server !== undefined;
      if (token !== undefined)
        held.push({ value: token.accessToken, storeKey: this.#storeKey(entry.key), discovered, refreshToken: token[REFRESH_TOKEN] });
    }
    for (const { value } of held) this.#revoked.set(value, true);
    return held;
  }

  /** Forgets `value` wherever it is held and returns where it was. */
  forget(value: string): Held[] {
    const held: Held[] = [];
    for (const entry of this.#deps.entries) {
      if (entry.token?.accessToken !== value) continue;
      const token = entry.clear();
      held.push({
        value,
        storeKey: this.#storeKey(entry.key),
        discovered: entry.params.server !== undefined,
        refreshToken: token?.[REFRESH_TOKEN],
      });
    }
    this.#revoked.set(value, true);
    return held.length > 0 ? held : [{ value, storeKey: undefined }];
  }

  /** Deletes forgotten tokens from the store, where they are still the stored ones. */
  async unshare(held: readonly Held[]): Promise<void> {
    const { store } = this.#deps;
    if (store === undefined) return;
    await Promise.all(held.map(({ value, storeKey }) => storeKey !== undefined && store.call((s) => s.delete(storeKey, value))));
  }

  /**
   * Revokes each value in parallel at `endpoint`, its refresh token first (`refresh_token` hint) when
   * it came with one; resolves with the errors of those that failed (one per value).
   */
  async revokeAll(
    endpoint: URL,
    config: RevocationConfig,
    values: readonly string[],
    refreshTokens: ReadonlyMap<string, string> = new Map(),
  ): Promise<TokenError[]> {
    const { events, clock, clientId } = this.#deps;
    const results = await Promise.allSettled(
      values.map(async (token) => {
        const started = clock.now();
        const refreshToken = refreshTokens.get(token);
        const attempt = (value: string, hint: 'access_token' | 'refresh_token') =>
          revokeToken(config, endpoint, value, hint).then(
            () => undefined,
            (error: unknown) => asTokenError(error),
          );
        const refreshOutcome = refreshToken === undefined ? undefined : await attempt(refreshToken, 'refresh_token');
        const outcome = (await attempt(token, 'access_token')) ?? refreshOutcome;
        events.emit('revoke', () => ({
          clientId,
          fingerprint: fingerprint(token),
          ok: outcome === undefined,
          error: outcome,
          duration: Math.round(clock.now() - started),
        }));
        if (outcome !== undefined) throw outcome;
      }),
    );
    return results.flatMap((r) => (r.status === 'rejected' ? [asTokenError(r.reason)] : []));
  }

  #storeKey(cacheKey: string): string | undefined {
    return this.#deps.store === undefined ? undefined : this.#deps.keyOf(cacheKey);
  }
}
