import type { GuardedStore } from './acquire/shared-store.js';
import type { TokenEntry } from './cache/token-entry.js';
import { tokenFingerprint } from './util/fingerprint.js';

/**
 * Fleet-wide invalidation: when a client sharing the store — in this process or another — deletes a
 * token from it because a resource server refused it (`invalidate()`, the 401 of a fetch wrapper) or
 * because it revoked it, drops that token from this client's entry of the same store key too, if it
 * is still the entry's current token. The same compare-and-invalidate as a refusal seen here
 * (`TokenEntry.invalidate`): the token is never taken back from the store, and the refusal pause still
 * holds (a resource server that refuses every token cannot make the fleet loop: a token that replaced
 * a refused one less than 10 s ago is kept, whether the news is a refusal or a revocation). Nothing is
 * deleted or published in turn.
 *
 * Fingerprints are computed when a message arrives, never on the `getToken()` path. Subscribes now,
 * when the store tells of invalidations (`TokenStore.onInvalidate`); unsubscribes when `closed` aborts.
 */
export function followInvalidations(
  store: GuardedStore,
  entries: Iterable<TokenEntry>,
  keyOf: (cacheKey: string) => string,
  closed: AbortSignal,
): void {
  if (closed.aborted) return;
  const unsubscribe = store.onInvalidate((key, fingerprint) => {
    for (const entry of entries) {
      const token = entry.token;
      if (token !== undefined && keyOf(entry.key) === key && tokenFingerprint(token.accessToken) === fingerprint) entry.invalidate(token);
    }
  });
  closed.addEventListener('abort', unsubscribe, { once: true });
}
