import { isReplayable, isRequest } from '../fetch/authorized-fetch.js';
import type { FetchLike } from '../options.js';
import { resourceMetadataHint } from '../protocol/resource-metadata.js';
import { type Challenge, parseWwwAuthenticate } from '../protocol/www-authenticate.js';
import type { ResourceBinding, ResourceRegistry } from './registry.js';

/** What the discovering `fetch` builds on. */
export interface ResourceFetchDeps {
  readonly registry: ResourceRegistry;
  /** An authorized `fetch` for a discovered resource's binding (cached by the caller). */
  readonly fetchFor: (binding: ResourceBinding) => typeof globalThis.fetch;
  /**
   * How a request to a resource not (yet) discovered is sent: with the client's default token when it
   * has an authorization server of its own, else without a token.
   */
  readonly unknown: typeof globalThis.fetch | FetchLike;
  readonly allowInsecureHttp: boolean;
}

const SCOPE_TOKEN = /^[\x21\x23-\x5b\x5d-\x7e]+$/;

/** The scope tokens of a challenge's `scope` parameter (RFC 6750 §3), if any valid ones. */
function challengeScope(challenges: readonly Challenge[]): string[] | undefined {
  const value = challenges.find((c) => (c.scheme === 'bearer' || c.scheme === 'dpop') && c.params.has('scope'))?.params.get('scope');
  const scope = value?.split(' ').filter((s) => SCOPE_TOKEN.test(s));
  return scope !== undefined && scope.length > 0 ? scope : undefined;
}

/** True when a 401 names where the resource's metadata is: discovery, not a fresh default token, answers it. */
export function namesResourceMetadata(response: Response): boolean {
  return parseWwwAuthenticate(response.headers.get('www-authenticate')).some((c) => c.params.has('resource_metadata'));
}

/** A 403 `insufficient_scope` challenge (RFC 6750 §3.1) with the scope it needs. */
function insufficientScope(response: Response): string[] | undefined {
  if (response.status !== 403) return undefined;
  const challenges = parseWwwAuthenticate(response.headers.get('www-authenticate'));
  if (!challenges.some((c) => c.params.get('error') === 'insufficient_scope')) return undefined;
  return challengeScope(challenges.filter((c) => c.params.get('error') === 'insufficient_scope'));
}

/**
 * A `fetch` for resources known only by URL (RFC 9728, as MCP clients use it):
 *
 * - A request to a resource already discovered carries a token from that resource's authorization server,
 *   requested with `resource` = its identifier.
 * - Otherwise the request is sent as `unknown` sends it; a 401 whose challenge names `resource_metadata`
 *   (or, without it, metadata at the well-known URLs) leads to discovery — the metadata, an allowed
 *   authorization server, its metadata — and the request is sent once more with a token. No metadata at
 *   all: the 401 goes back to the caller.
 * - A 403 `insufficient_scope` with a `scope` leads to one token with the union of the held and the
 *   required scopes, and one more attempt; what comes back then goes to the caller.
 *
 * Requests whose body cannot be sent twice (a stream) get the first answer, whatever it is.
 */
export function createResourceFetch(deps: ResourceFetchDeps): typeof globalThis.fetch {
  const { registry, fetchFor } = deps;

  const withStepUp = async (
    binding: ResourceBinding,
    input: string | URL | Request,
    init: RequestInit | undefined,
    replayable: boolean,
  ) => {
    const response = await fetchFor(binding)(input, init);
    const required = replayable ? insufficientScope(response) : undefined;
    if (required === undefined) return response;
    const held = binding.params.scope;
    const union = [...new Set([...held, ...required])];
    if (union.length === held.length) return response;
    response.body?.cancel().catch(() => {});
    return fetchFor(registry.widen(binding, union))(input, init);
  };

  return async function resourceFetch(input: string | URL | Request, init?: RequestInit): Promise<Response> {
    const request = isRequest(input) ? input : undefined;
    let url: URL;
    try {
      url = new URL(request ? request.url : input instanceof URL ? input.href : String(input));
    } catch {
      throw new TypeError('m2m-token: the request URL is not an absolute URL');
    }
    const replayable = init !== undefined && init.body != null ? isReplayable(init.body) : request === undefined || request.body === null;
    const known = registry.find(url);
    if (known !== undefined) return withStepUp(known, input, init, replayable);

    const response = await deps.unknown(input, init);
    if (response.status !== 401 || !replayable) return response;
    const challenges = parseWwwAuthenticate(response.headers.get('www-authenticate'));
    let binding: ResourceBinding | undefined;
    try {
      binding = await registry.discover(url, resourceMetadataHint(challenges, url, deps.allowInsecureHttp), challengeScope(challenges));
    } catch (error) {
      response.body?.cancel().catch(() => {});
      throw error;
    }
    if (binding === undefined) return response;
    response.body?.cancel().catch(() => {});
    return withStepUp(binding, input, init, replayable);
  };
}
