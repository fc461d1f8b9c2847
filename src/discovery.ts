import { TokenError } from './errors.js';
import type { HttpResult } from './http.js';
import { loadSchemas } from './schemas.js';
import { errorFromResponse, redact } from './token-response.js';

/** The authorization server metadata members the client uses (RFC 8414 §2). */
export interface AuthorizationServerMetadata {
  readonly issuer: string;
  readonly token_endpoint?: string | undefined;
  readonly revocation_endpoint?: string | undefined;
  readonly introspection_endpoint?: string | undefined;
  readonly token_endpoint_auth_methods_supported?: readonly string[] | undefined;
  readonly mtls_endpoint_aliases?: Readonly<Record<string, string>> | undefined;
}

/**
 * The metadata URLs to try for an issuer, in order: RFC 8414 §3.1 (the well-known segment inserted
 * between host and path), then OpenID Connect Discovery 1.0 §4 (appended to the issuer).
 */
export function metadataUrls(issuer: string): URL[] {
  const base = new URL(issuer);
  const path = base.pathname.replace(/\/$/, '');
  return [
    new URL(`${base.origin}/.well-known/oauth-authorization-server${path}`),
    new URL(`${base.origin}${path}/.well-known/openid-configuration`),
  ];
}

/**
 * Fetches and validates authorization server metadata. A 404 (or other 4xx) at the RFC 8414 location
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
    await loadSchemas();
    const last = index === urls.length - 1;
    if (result.status >= 400 && result.status < 500 && !last) continue;
    if (result.status < 200 || result.status > 299) throw errorFromResponse(result, `discovery at ${location.href}`, secrets);
    let body: unknown;
    try {
      body = JSON.parse(result.text);
    } catch {
      body = undefined;
    }
    const parsed = (await loadSchemas()).Metadata.safeParse(body);
    if (!parsed.success) {
      throw new TokenError('INVALID_RESPONSE', `metadata at ${location.href} is not a valid metadata document`, {
        status: result.status,
      });
    }
    if (trim(parsed.data.issuer) !== trim(issuer)) {
      throw new TokenError('INVALID_RESPONSE', `metadata at ${location.href} is for issuer ${JSON.stringify(redact(parsed.data.issuer, secrets))}, not ${JSON.stringify(issuer)}`, {
        status: result.status,
      });
    }
    return parsed.data;
  }
  /* c8 ignore next */
  throw new TokenError('INVALID_RESPONSE', `no metadata found for ${issuer}`);
}
