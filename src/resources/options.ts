import { parseEndpoint } from '../util/endpoint.js';

/** Options of resource discovery (RFC 9728), the `resourceDiscovery` client option. */
export interface ResourceDiscoveryOptions {
  /**
   * Issuer identifiers of the authorization servers the client may ask for tokens when a resource
   * names them in its metadata. Compared exactly, as strings: `https://as.example.com` does not allow
   * `https://as.example.com/`. A resource that names none of them gets no token (`TokenError` `CONFIG`),
   * and none of the servers it names gets any request. Required: discovery is off without it.
   */
  authorizationServers: readonly (string | URL)[];
  /**
   * Most resources, authorization servers and metadata documents remembered (each); the least recently
   * used is dropped beyond it.
   * @default 100
   */
  maxResources?: number | undefined;
}

/** Resource discovery after validation. */
export interface ResolvedResourceDiscovery {
  readonly authorizationServers: ReadonlySet<string>;
  readonly maxResources: number;
}

function fail(option: string, expected: string): never {
  throw new TypeError(`m2m-token: option \`${option}\` must be ${expected}`);
}

/** Validates the `resourceDiscovery` option; throws a `TypeError` naming the invalid part. */
export function resolveResourceDiscovery(value: unknown, allowInsecureHttp: boolean): ResolvedResourceDiscovery | undefined {
  if (value === undefined) return undefined;
  if (typeof value !== 'object' || value === null) fail('resourceDiscovery', 'an object { authorizationServers }');
  const { authorizationServers, maxResources = 100, ...rest } = value as Partial<ResourceDiscoveryOptions>;
  const unknown = Object.keys(rest)[0];
  if (unknown !== undefined) throw new TypeError(`m2m-token: unknown option \`resourceDiscovery.${unknown}\``);
  if (!Array.isArray(authorizationServers) || authorizationServers.length === 0) {
    fail('resourceDiscovery.authorizationServers', 'a non-empty array of issuer identifiers');
  }
  const issuers = authorizationServers.map((issuer: unknown) => {
    if (typeof issuer !== 'string' && !(issuer instanceof URL))
      fail('resourceDiscovery.authorizationServers', 'a non-empty array of issuer identifiers');
    const url = parseEndpoint('resourceDiscovery.authorizationServers', issuer, allowInsecureHttp);
    if (url.search !== '') fail('resourceDiscovery.authorizationServers', 'issuer identifiers without query or fragment');
    return String(issuer);
  });
  if (!Number.isInteger(maxResources) || maxResources <= 0) fail('resourceDiscovery.maxResources', 'a positive integer');
  return { authorizationServers: new Set(issuers), maxResources };
}
