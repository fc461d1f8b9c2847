import { TokenError } from '../errors.js';
import { parseEndpoint } from '../util/endpoint.js';
import { type HttpResult, type SendOptions, send } from './http.js';
import { schemas } from './schemas.js';
import { errorFromResponse, parseJson } from './token-response.js';
import type { Challenge } from './www-authenticate.js';

/** The protected resource metadata members the client uses (RFC 9728 §2). */
export interface ProtectedResourceMetadata {
  /** The resource identifier: an `https:` URL without fragment. */
  readonly resource: string;
  /** Issuer identifiers of the authorization servers that issue tokens for the resource. */
  readonly authorization_servers?: readonly string[] | undefined;
  readonly scopes_supported?: readonly string[] | undefined;
  /** The resource accepts only DPoP-bound tokens (RFC 9449). */
  readonly dpop_bound_access_tokens_required?: boolean | undefined;
}

const WELL_KNOWN = '/.well-known/oauth-protected-resource';

/**
 * Where to look for the metadata of the resource `url` belongs to, without a `resource_metadata` hint:
 * the well-known segment inserted between host and path (RFC 9728 §3.1), then — for a URL with a path —
 * at the root of its origin (the fallback the MCP authorization specification lists).
 */
export function resourceMetadataUrls(url: URL): URL[] {
  const path = url.pathname.replace(/\/$/, '');
  return path === ''
    ? [new URL(`${url.origin}${WELL_KNOWN}`)]
    : [new URL(`${url.origin}${WELL_KNOWN}${path}`), new URL(`${url.origin}${WELL_KNOWN}`)];
}

/**
 * True when the resource identifier `resource` covers the request URL: same origin, and a path that is
 * the request's path or one of its parent paths at a segment boundary. RFC 9728 §3.3 asks for the
 * identifier the request was made to; like the MCP SDK, a request below the identifier counts too
 * (`https://api.example.com/v1` covers `https://api.example.com/v1/orders`, not `/v10`).
 */
export function resourceCovers(resource: string, url: URL): boolean {
  let id: URL;
  try {
    id = new URL(resource);
  } catch {
    return false;
  }
  if (id.origin !== url.origin || id.hash !== '' || id.search !== '') return false;
  const slash = (p: string) => (p.endsWith('/') ? p : `${p}/`);
  return slash(url.pathname).startsWith(slash(id.pathname));
}

/**
 * The `resource_metadata` URL of a 401's Bearer or DPoP challenge (RFC 9728 §5.1), checked: an `http(s)`
 * URL on the origin of the request (a resource server cannot send the client elsewhere, as a redirect
 * could not). `undefined` when no challenge has one; `INVALID_RESPONSE` for one that is not acceptable.
 */
export function resourceMetadataHint(challenges: readonly Challenge[], requestUrl: URL, allowInsecureHttp: boolean): URL | undefined {
  const value = challenges
    .find((c) => (c.scheme === 'bearer' || c.scheme === 'dpop') && c.params.has('resource_metadata'))
    ?.params.get('resource_metadata');
  if (value === undefined) return undefined;
  let url: URL;
  try {
    url = parseEndpoint('resource_metadata', value, allowInsecureHttp);
  } catch {
    throw new TokenError('INVALID_RESPONSE', `the resource at ${requestUrl.origin} sent a resource_metadata that is not an acceptable URL`);
  }
  if (url.origin !== requestUrl.origin) {
    throw new TokenError(
      'INVALID_RESPONSE',
      `the resource at ${requestUrl.origin} sent a resource_metadata on another origin; it is not fetched`,
    );
  }
  return url;
}

/**
 * Fetches protected resource metadata (RFC 9728 §3) from `urls` in order: a 404 moves to the next one,
 * and `undefined` comes back when every one is 404. Each request is bounded by the send options' timeout
 * and size limit and never follows a redirect. The document must be valid and its `resource` must cover
 * `requestUrl` (RFC 9728 §3.3), else `INVALID_RESPONSE`.
 *
 * @see https://www.rfc-editor.org/rfc/rfc9728#section-3
 */
export async function fetchResourceMetadata(
  urls: readonly URL[],
  requestUrl: URL,
  options: SendOptions,
): Promise<ProtectedResourceMetadata | undefined> {
  for (const url of urls) {
    const result: HttpResult = await send(url, { method: 'GET', headers: { accept: 'application/json' } }, options);
    if (result.status === 404) continue;
    if (result.status < 200 || result.status > 299) throw errorFromResponse(result, `resource metadata at ${url.href}`, options.secrets);
    const parsed = schemas.ResourceMetadata.safeParse(parseJson(result));
    if (!parsed.success) {
      throw new TokenError('INVALID_RESPONSE', `resource metadata at ${url.href} is not a valid metadata document`, {
        status: result.status,
      });
    }
    if (!resourceCovers(parsed.data.resource, requestUrl)) {
      throw new TokenError(
        'INVALID_RESPONSE',
        `resource metadata at ${url.href} is for another resource than ${requestUrl.origin}${requestUrl.pathname}`,
        {
          status: result.status,
        },
      );
    }
    return parsed.data;
  }
  return undefined;
}

/**
 * The authorization server to ask for a resource's tokens: the first of its `authorization_servers`
 * that is in `allowed`, compared exactly (issuer identifiers are compared as strings, RFC 8414 §3.3).
 * None → `CONFIG`, before anything is sent to any of them.
 */
export function chooseAuthorizationServer(metadata: ProtectedResourceMetadata, allowed: ReadonlySet<string>): string {
  const issuer = metadata.authorization_servers?.find((candidate) => allowed.has(candidate));
  if (issuer === undefined) {
    const named = metadata.authorization_servers?.length ?? 0;
    throw new TokenError(
      'CONFIG',
      `the resource ${metadata.resource} names ${named} authorization server(s), none of them in resourceDiscovery.authorizationServers; no token was requested`,
    );
  }
  return issuer;
}
