import type { Core } from './assemble.js';
import type { TokenEntry } from './cache/token-entry.js';
import type { TokenSource } from './fetch/authorized-fetch.js';
import { resolveParams } from './resolve-options.js';
import type { HeldToken } from './token.js';

/** What a wrapper's tokens are for: the client's defaults where absent. */
export interface SourceParams {
  readonly scope?: string | readonly string[] | undefined;
  readonly audience?: string | undefined;
  readonly resource?: string | readonly string[] | undefined;
}

/**
 * After a resource server refused `token`: drops it from `entry` if it is still the current one
 * (compare-and-invalidate) and then from the shared store. Returns false when refusals are paused (the
 * resource server refuses fresh tokens too): the caller should not send once more.
 */
export function invalidateIn(core: Core, entry: TokenEntry, token: HeldToken): boolean {
  const outcome = entry.invalidate(token);
  const { store, keyOf } = core;
  if (outcome === 'dropped' && store !== undefined) void store.call((s) => s.delete(keyOf(entry.key), token.accessToken));
  return outcome !== 'paused';
}

/**
 * Invalidates the access token `value` in whichever entry holds it as its current token. A token no
 * entry holds any more (already replaced) changes nothing and returns true: the current one may be tried.
 */
export function invalidateValue(core: Core, value: string): boolean {
  for (const entry of core.entries) {
    const token = entry.token;
    if (token?.accessToken === value) return invalidateIn(core, entry, token);
  }
  return true;
}

/**
 * A token source for an HTTP client integration. Its entry is kept from eviction while the source
 * (held by the wrapper or interceptor) is reachable.
 */
export function tokenSource(core: Core, params: SourceParams): TokenSource {
  const { entries, dpop } = core;
  const resolved = resolveParams(params, entries.default.params);
  const source: TokenSource & { entry?: TokenEntry } = {
    get: (signal) => source.entry!.get(signal, false),
    peek: () => source.entry!.peek(),
    invalidate: (token) => invalidateIn(core, source.entry!, token),
    dpop,
  };
  source.entry = resolved === undefined ? entries.default : entries.pin(resolved, source);
  return source;
}

const cores = new WeakMap<object, Core>();

/** Internal: records the core of a client, for the integrations in other entry points (undici, axios). */
export function registerCore(client: object, core: Core): void {
  cores.set(client, core);
}

/**
 * A token source of `client` for an integration; TypeError naming `what` when `client` is not a
 * `ClientCredentialsClient`.
 */
export function sourceOf(client: unknown, params: SourceParams, what: string): TokenSource {
  const core = typeof client === 'object' && client !== null ? cores.get(client) : undefined;
  if (core === undefined) {
    throw new TypeError(`m2m-token: ${what} takes a ClientCredentialsClient`);
  }
  return tokenSource(core, params);
}
