import { TokenError } from './errors.js';
import { type DiscoveryConfig, discoverEndpoints, type Endpoints } from './protocol/discovery.js';
import type { ResolvedOptions } from './options.js';

/**
 * The endpoints of one client: configured ones as given; the others discovered from `issuer` once and
 * shared (a failed discovery is not kept, so the next call tries again).
 */
export class EndpointResolver {
  readonly #options: ResolvedOptions;
  readonly #config: (signal: AbortSignal) => DiscoveryConfig;
  #discovered: Promise<Endpoints> | undefined;

  constructor(options: ResolvedOptions, config: (signal: AbortSignal) => DiscoveryConfig) {
    this.#options = options;
    this.#config = config;
  }

  /** The discovery configuration (retry policy, send options, mTLS), bounded by `signal`. */
  config(signal: AbortSignal): DiscoveryConfig {
    return this.#config(signal);
  }

  /** The discovered endpoints and metadata (the client has an `issuer`). */
  discovered(signal: AbortSignal): Promise<Endpoints> {
    if (this.#discovered === undefined) {
      const request = discoverEndpoints(this.#config(signal));
      this.#discovered = request;
      request.catch(() => {
        if (this.#discovered === request) this.#discovered = undefined;
      });
    }
    return this.#discovered;
  }

  /** The token endpoint: configured, or discovered; `CONFIG` when the client has neither (resource discovery only). */
  async token(signal: AbortSignal): Promise<URL> {
    const { tokenEndpoint, issuer } = this.#options;
    if (tokenEndpoint === undefined && issuer === undefined) {
      throw new TokenError(
        'CONFIG',
        'no default authorization server: set `tokenEndpoint` or `issuer` (resource discovery finds servers only for client.fetch)',
      );
    }
    return tokenEndpoint ?? (await this.discovered(signal)).token;
  }

  /** The revocation endpoint: configured, or discovered; `CONFIG` when neither. */
  async revocation(signal: AbortSignal): Promise<URL> {
    const { revocationEndpoint, issuer } = this.#options;
    const endpoint = revocationEndpoint ?? (issuer === undefined ? undefined : (await this.discovered(signal)).revocation);
    if (endpoint === undefined) {
      throw new TokenError('CONFIG', 'no revocation endpoint: set `revocationEndpoint`, or an `issuer` whose metadata has one');
    }
    return endpoint;
  }

  /**
   * The `aud` of a client assertion sent to `endpoint`: the issuer identifier (from the metadata once
   * discovered) by default; the token endpoint URL with `'token_endpoint'` (for every endpoint, the
   * revocation endpoint included) or when no issuer is known; the endpoint called with `'endpoint'`.
   */
  async assertionAudience(endpoint: URL, signal: AbortSignal): Promise<string> {
    const { assertionAudience, issuer, tokenEndpoint } = this.#options;
    if (assertionAudience === 'endpoint') return endpoint.href;
    if (assertionAudience === 'token_endpoint' || issuer === undefined) {
      return (tokenEndpoint ?? (issuer === undefined ? endpoint : await this.token(signal))).href;
    }
    return this.#discovered === undefined ? issuer : (await this.#discovered).metadata.issuer;
  }
}
