import type { GuardedStore } from './acquire/shared-store.js';
import type { TokenEntry } from './cache/token-entry.js';
import { tokenFingerprint } from './util/fingerprint.js';

/** What a client's invalidation listener acts on. */
interface Target {
  readonly entries: Iterable<TokenEntry>;
  readonly keyOf: (cacheKey: string) => string;
}

/** Each client's target, kept alive by its close signal: as long as the client lives. */
const targets = new WeakMap<AbortSignal, Target>();
/** Unsubscribes the listener of a client garbage-collected without being closed. */
const collected = new FinalizationRegistry<{ stop(): void }>((subscription) => subscription.stop());

/**
 * Fleet-wide invalidation: when a client sharing the store — in this process or another — deletes a
 * token from it because a resource server refused it (`invalidate()`, the 401 of a fetch wrapper) or
 * because it revoked it, drops that token from this client's entry of the same store key too, if it
 * is still the entry's current token. The same compare-and-invalidate as a refusal seen here
 * (`TokenEntry.invalidate`), except that the token is dropped even while this entry's refusals are
 * paused (the news may be a revocation). Nothing is deleted or published in turn, so a resource server
 * that refuses every token cannot make the fleet loop: only a client's own refusals publish, and its
 * refusal pause bounds how often.
 *
 * Fingerprints are computed when a message arrives, never on the `getToken()` path. Subscribes now,
 * when the store tells of invalidations (`TokenStore.onInvalidate`); unsubscribes when `closed` aborts,
 * or once the client was garbage-collected without being closed (the store, which outlives clients,
 * holds the client's entries only weakly; a message that finds them gone also unsubscribes).
 */
export function followInvalidations(
  store: GuardedStore,
  entries: Iterable<TokenEntry>,
  keyOf: (cacheKey: string) => string,
  closed: AbortSignal,
): void {
  if (closed.aborted) return;
  const target: Target = { entries, keyOf };
  targets.set(closed, target);
  const subscription = subscribe(store, new WeakRef(target));
  closed.addEventListener('abort', () => subscription.stop(), { once: true });
  collected.register(closed, subscription);
}

/** The store's listener, made in a scope of its own so that it holds `target` weakly only. */
function subscribe(store: GuardedStore, target: WeakRef<Target>): { stop(): void } {
  let unsubscribe = () => {};
  unsubscribe = store.onInvalidate((key, fingerprint) => {
    const live = target.deref();
    if (live === undefined) return unsubscribe();
    for (const entry of live.entries) {
      const token = entry.token;
      if (token !== undefined && live.keyOf(entry.key) === key && tokenFingerprint(token.accessToken) === fingerprint) {
        // Dropped even while refusals are paused here: the news may be a revocation.
        if (entry.invalidate(token) === 'paused') entry.forget();
      }
    }
  });
  return { stop: () => unsubscribe() };
}
