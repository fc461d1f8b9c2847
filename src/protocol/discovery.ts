import { TokenError } from '../errors.js';
import { parseEndpoint } from '../util/endpoint.js';
import { redact } from '../util/redact.js';
import { type HttpResult, type SendOptions, send } from './http.js';
import { type RetryInfo, type RetryPolicy, withRetry } from './retry.js';
import { schemas } from './schemas.js';
import { errorFromResponse, parseJson } from './token-response.js';

/** The authorization server metadata members the client uses (RFC 8414 §2). */
export interface AuthorizationServerMetadata {
  /** The authorization server's issuer identifier; equal to the configured `issuer`. */
  readonly issuer: string;
  /** The token endpoint URL (RFC 6749 §3.2). */
  readonly token_endpoint?: string | undefined;
  /** The revocation endpoint URL (RFC 7009). */
  readonly revocation_endpoint?: string | undefined;
  /** The introspection endpoint URL (RFC 7662). */
  readonly introspection_endpoint?: string | undefined;
  /** The client authentication methods the token endpoint accepts. */
  readonly token_endpoint_auth_methods_supported?: readonly string[] | undefined;
  /** Endpoints to use with mutual TLS instead of the plain ones (RFC 8705 §5). */
  readonly mtls_endpoint_aliases?: Readonly<Record<string, string>> | undefined;
}

/**
 * The metadata URLs to try for an issuer, in order: RFC 8414 §3.1 (the well-known segment inserted
 * between host and path); for an issuer with a path, OpenID Connect with the same path insertion (the
 * form the MCP authorization specification lists); then OpenID Connect Discovery 1.0 §4 (appended to the
 * issuer).
 */
export function metadataUrls(issuer: string): URL[] {
  const base = new URL(issuer);
  const path = base.pathname.replace(/\/$/, '');
  return [
    new URL(`${base.origin}/.well-known/oauth-authorization-server${path}`),
    ...(path === '' ? [] : [new URL(`${base.origin}/.well-known/openid-configuration${path}`)]),
    new URL(`${base.origin}${path}/.well-known/openid-configuration`),
  ];
}

/**
 * Fetches and validates authorization server metadata (`get` follows same-origin redirects: see
 * {@link getMetadata}). A 404 (or other 4xx) at the RFC 8414 location
 * falls back to the OpenID Connect location. The document's `issuer` must equal `issuer` exactly
 * (RFC 8414 §3.3) — or, with `ignoreTrailingSlash`, up to one trailing `/` — or the metadata is refused
 * with `INVALID_RESPONSE`. `secrets` are redacted from the server's text in errors.
 *
 * @see https://www.rfc-editor.org/rfc/rfc8414#section-3
 */
export async function discover(
  issuer: string,
  get: (url: URL) => Promise<HttpResult>,
  ignoreTrailingSlash = false,
  secrets: readonly string[] = [],
): Promise<AuthorizationServerMetadata> {
  const trim = (s: string) => (ignoreTrailingSlash ? s.replace(/\/$/, '') : s);
  const urls = metadataUrls(issuer);
  for (const [index, location] of urls.entries()) {
    const result = await get(location);
    const last = index === urls.length - 1;
    if (result.status >= 400 && result.status < 500 && !last) continue;
    if (result.status < 200 || result.status > 299) throw errorFromResponse(result, `discovery at ${location.href}`, secrets);
    const parsed = schemas.Metadata.safeParse(parseJson(result));
    if (!parsed.success) {
      throw new TokenError('INVALID_RESPONSE', `metadata at ${location.href} is not a valid metadata document`, {
        status: result.status,
      });
    }
    if (trim(parsed.data.issuer) !== trim(issuer)) {
      throw new TokenError(
        'INVALID_RESPONSE',
        `metadata at ${location.href} is for issuer ${JSON.stringify(redact(parsed.data.issuer, secrets))}, not ${JSON.stringify(issuer)}`,
        {
          status: result.status,
        },
      );
    }
    return parsed.data;
  }
  /* c8 ignore next */
  throw new TokenError('INVALID_RESPONSE', `no metadata found for ${issuer}`);
}

/** Redirects a metadata GET follows, at most, within the metadata URL's origin. */
export const MAX_METADATA_REDIRECTS = 5;

const REDIRECT_STATUSES = new Set([301, 302, 303, 307, 308]);

/**
 * GETs a metadata document, following redirects that stay within `url`'s origin (scheme, host and
 * port), at most {@link MAX_METADATA_REDIRECTS}: Django OAuth Toolkit, for one, redirects
 * `/.well-known/openid-configuration` to the same path with a trailing slash. A redirect to another
 * origin, one hop too many, or a `Location` that is not a URL ends it: that 3xx response is returned,
 * and discovery fails with its status. Token and revocation requests never follow redirects.
 */
export async function getMetadata(url: URL, options: SendOptions): Promise<HttpResult> {
  let current = url;
  for (let hop = 0; ; hop++) {
    const result = await send(current, { method: 'GET', headers: { accept: 'application/json' } }, options);
    const location = REDIRECT_STATUSES.has(result.status) ? result.headers.get('location') : null;
    if (location === null || hop >= MAX_METADATA_REDIRECTS) return result;
    const next = URL.canParse(location, current.href) ? new URL(location, current) : undefined;
    if (next === undefined || next.origin !== url.origin) return result;
    current = next;
  }
}

/** The endpoints the client uses, from its options and the issuer's metadata. */
export interface Endpoints {
  readonly token: URL;
  readonly revocation: URL | undefined;
  readonly metadata: AuthorizationServerMetadata;
}

/** What {@link discoverEndpoints} needs to know. */
export interface DiscoveryConfig {
  readonly issuer: string;
  /** The issuer was given as a `URL` (whose serialisation may have gained a trailing `/`). */
  readonly issuerFromUrl: boolean;
  readonly tokenEndpoint: URL | undefined;
  readonly revocationEndpoint: URL | undefined;
  readonly allowInsecureHttp: boolean;
  /** With a client certificate, the mutual-TLS aliases (RFC 8705 §5) take precedence. */
  readonly mtls: boolean;
  readonly retry: RetryPolicy;
  readonly send: SendOptions;
  readonly onRetry?: ((info: RetryInfo) => void) | undefined;
}

/**
 * Discovers the issuer's metadata (with retries of transient failures) and resolves the token and
 * revocation endpoints: configured ones win over discovered ones.
 */
export async function discoverEndpoints(config: DiscoveryConfig): Promise<Endpoints> {
  const { issuer, send: sendOptions, retry, onRetry } = config;
  const get = (url: URL) =>
    withRetry(
      async () => {
        const result = await getMetadata(url, sendOptions);
        if (result.status >= 500 || result.status === 429) throw errorFromResponse(result, `discovery at ${url.href}`, sendOptions.secrets);
        return result;
      },
      retry,
      { signal: sendOptions.signal, onRetry },
    );
  const metadata = await discover(issuer, get, config.issuerFromUrl, sendOptions.secrets);
  const aliases = config.mtls ? metadata.mtls_endpoint_aliases : undefined;
  const endpoint = (name: 'token_endpoint' | 'revocation_endpoint') => {
    const value = aliases?.[name] ?? metadata[name];
    if (value === undefined) return undefined;
    try {
      return parseEndpoint(name, value, config.allowInsecureHttp);
    } catch (error) {
      throw new TokenError('INVALID_RESPONSE', `metadata of ${issuer}: ${(error as Error).message}`);
    }
  };
  const token = config.tokenEndpoint ?? endpoint('token_endpoint');
  if (token === undefined) throw new TokenError('INVALID_RESPONSE', `metadata of ${issuer} has no token_endpoint`);
  return { token, revocation: config.revocationEndpoint ?? endpoint('revocation_endpoint'), metadata };
}
