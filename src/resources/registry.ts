import { discoverEndpoints, type DiscoveryConfig, type Endpoints } from '../protocol/discovery.js';
import type { SendOptions } from '../protocol/http.js';
import {
  chooseAuthorizationServer,
  fetchResourceMetadata,
  type ProtectedResourceMetadata,
  resourceCovers,
  resourceMetadataUrls,
} from '../protocol/resource-metadata.js';
import type { AuthorizationServerRef, TokenParams } from '../token.js';
import { BoundedMap } from '../util/bounded-map.js';

/** What the client knows about a resource found by discovery: where its tokens come from, and for what. */
export interface ResourceBinding {
  /** The resource identifier (RFC 9728 `resource`), sent as the `resource` of token requests (RFC 8707). */
  readonly resource: string;
  /** The token parameters: scope, resource, and the discovered authorization server. */
  readonly params: TokenParams;
}

/** What a {@link ResourceRegistry} needs: the allow-list and how to send its requests. */
export interface ResourceRegistryConfig {
  /** Issuer identifiers the client may get tokens from, compared exactly. */
  readonly allowed: ReadonlySet<string>;
  /** Most resources (and authorization servers, and metadata documents) remembered. */
  readonly capacity: number;
  /** How metadata requests are sent: the client's timeout, size limit and closing signal. */
  readonly send: SendOptions;
  /** The discovery of an allowed authorization server (the client's retry policy, mTLS aliases, …). */
  readonly discovery: (issuer: string) => DiscoveryConfig;
  /** The thumbprint of the DPoP key for resources that require DPoP; may throw `CONFIG`. */
  readonly dpopKey: () => string;
}

/**
 * The resources a client found by discovery (RFC 9728): each resource identifier with the authorization
 * server chosen for it and the scope its tokens are requested with. Stateful on purpose — the protocol
 * functions it calls are not. Every memory is bounded; a failed discovery is not kept, so the next
 * request tries again; concurrent discoveries of one metadata URL or one authorization server share one
 * request.
 */
export class ResourceRegistry {
  readonly #config: ResourceRegistryConfig;
  readonly #bindings: BoundedMap<string, ResourceBinding>;
  readonly #discoveries: BoundedMap<string, Promise<ResourceBinding | undefined>>;
  readonly #servers: BoundedMap<string, Promise<Endpoints>>;

  constructor(config: ResourceRegistryConfig) {
    this.#config = config;
    this.#bindings = new BoundedMap(config.capacity);
    this.#discoveries = new BoundedMap(config.capacity);
    this.#servers = new BoundedMap(config.capacity);
  }

  /** The binding of the known resource that covers `url` most narrowly, if any. */
  find(url: URL): ResourceBinding | undefined {
    let best: ResourceBinding | undefined;
    for (const binding of this.#bindings.values()) {
      if (resourceCovers(binding.resource, url) && (best === undefined || binding.resource.length > best.resource.length)) best = binding;
    }
    return best;
  }

  /**
   * Discovers the resource `url` belongs to from `hint` (a 401's `resource_metadata`) or else its
   * well-known metadata URLs, chooses an allowed authorization server and discovers it. `undefined` when
   * there is no hint and no metadata at the well-known URLs. `scope` (the challenge's) wins over the
   * metadata's `scopes_supported`.
   */
  discover(url: URL, hint: URL | undefined, scope: readonly string[] | undefined): Promise<ResourceBinding | undefined> {
    const urls = hint === undefined ? resourceMetadataUrls(url) : [hint];
    const key = urls[0]!.href;
    let discovery = this.#discoveries.get(key);
    if (discovery === undefined) {
      discovery = this.#bind(urls, url, scope);
      this.#discoveries.set(key, discovery);
      const forget = () => {
        if (this.#discoveries.get(key) === discovery) this.#discoveries.delete(key);
      };
      // Kept only while it is running: the binding itself is what is remembered.
      discovery.then(forget, forget);
    }
    return discovery;
  }

  /** The binding of `binding`'s resource with `scope` instead (a step-up), remembered for later requests. */
  widen(binding: ResourceBinding, scope: readonly string[]): ResourceBinding {
    const wider: ResourceBinding = { resource: binding.resource, params: { ...binding.params, scope } };
    this.#bindings.set(binding.resource, wider);
    return wider;
  }

  async #bind(urls: readonly URL[], url: URL, scope: readonly string[] | undefined): Promise<ResourceBinding | undefined> {
    const metadata = await fetchResourceMetadata(urls, url, this.#config.send);
    if (metadata === undefined) return undefined;
    const issuer = chooseAuthorizationServer(metadata, this.#config.allowed);
    const server = await this.#server(issuer, metadata);
    const known = this.#bindings.get(metadata.resource);
    if (known !== undefined && sameServer(known.params.server, server)) return known;
    const binding: ResourceBinding = {
      resource: metadata.resource,
      params: { scope: [...new Set(scope ?? metadata.scopes_supported ?? [])], audience: undefined, resource: [metadata.resource], server },
    };
    this.#bindings.set(metadata.resource, binding);
    return binding;
  }

  async #server(issuer: string, metadata: ProtectedResourceMetadata): Promise<AuthorizationServerRef> {
    let endpoints = this.#servers.get(issuer);
    if (endpoints === undefined) {
      const discovering = discoverEndpoints(this.#config.discovery(issuer));
      endpoints = discovering;
      this.#servers.set(issuer, discovering);
      discovering.catch(() => {
        if (this.#servers.get(issuer) === discovering) this.#servers.delete(issuer);
      });
    }
    const { token } = await endpoints;
    const dpop = metadata.dpop_bound_access_tokens_required === true ? this.#config.dpopKey() : undefined;
    return { issuer, tokenEndpoint: token, dpop };
  }
}

function sameServer(a: AuthorizationServerRef | undefined, b: AuthorizationServerRef): boolean {
  return a !== undefined && a.issuer === b.issuer && a.tokenEndpoint.href === b.tokenEndpoint.href && a.dpop === b.dpop;
}
