import type { Core } from './assemble.js';
import { cacheKey } from './cache/entries.js';
import type { TokenEntry } from './cache/token-entry.js';
import { createAuthorizedFetch, type TokenSource } from './fetch/authorized-fetch.js';
import type { ResourceBinding, ResourceRegistry } from './resources/registry.js';
import { createResourceFetch, namesResourceMetadata } from './resources/resource-fetch.js';
import type { HeldToken } from './token.js';
import { BoundedMap } from './util/bounded-map.js';

/**
 * The client's `fetch` with resource discovery (RFC 9728): one authorized `fetch` per discovered
 * resource and scope, each holding (pinning) its token entry — keyed by the discovered server, the
 * resource and the scope, so that any number of concurrent requests share one token request.
 * Requests to other resources carry the client's default token when it has an authorization server of
 * its own, and none otherwise.
 */
export function createDiscoveringFetch(
  core: Core,
  registry: ResourceRegistry,
  invalidate: (entry: TokenEntry, token: HeldToken) => boolean,
): typeof globalThis.fetch {
  const { entries, send, options } = core;
  const wrappers = new BoundedMap<string, typeof globalThis.fetch>(options.resourceDiscovery!.maxResources);
  const fetchFor = (binding: ResourceBinding) => {
    const key = cacheKey(binding.params);
    let wrapper = wrappers.touch(key);
    if (wrapper === undefined) {
      const source: TokenSource & { entry?: TokenEntry } = {
        get: (signal) => source.entry!.get(signal, false),
        peek: () => source.entry!.peek(),
        invalidate: (token) => invalidate(source.entry!, token),
        dpop: core.dpopOf(binding.params.server),
      };
      source.entry = entries.pin(binding.params, source);
      wrapper = createAuthorizedFetch(source, undefined, send.fetch);
      wrappers.set(key, wrapper);
    }
    return wrapper;
  };
  const hasDefaultServer = options.issuer !== undefined || options.tokenEndpoint !== undefined;
  const defaultSource: TokenSource = {
    get: (signal) => entries.default.get(signal, false),
    peek: () => entries.default.peek(),
    invalidate: (token) => invalidate(entries.default, token),
    dpop: core.dpop,
  };
  const unknown = hasDefaultServer
    ? createAuthorizedFetch(defaultSource, undefined, send.fetch, (response) => !namesResourceMetadata(response))
    : (input: string | URL | Request, init?: RequestInit) => (send.fetch ?? globalThis.fetch)(input, init);
  return createResourceFetch({ registry, fetchFor, unknown, allowInsecureHttp: options.allowInsecureHttp });
}
