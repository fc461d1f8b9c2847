import { OAuthError, TokenError } from '../errors.js';
import { createToken, type HeldToken, normalizeTokenType } from '../token.js';
import { redact } from '../util/redact.js';
import type { HttpResult } from './http.js';
import { parseRetryAfter } from './retry.js';
import { schemas } from './schemas.js';

const OWN_MEMBERS = new Set(['access_token', 'token_type', 'expires_in', 'scope', 'refresh_token', 'id_token']);

/** The body as JSON, or `undefined`. A leading UTF-8 byte order mark is ignored (RFC 8259 §8.1). */
export function parseJson(result: HttpResult): unknown {
  try {
    return JSON.parse(result.text.charCodeAt(0) === 0xfeff ? result.text.slice(1) : result.text);
  } catch {
    return undefined;
  }
}

function retryAfterOf(result: HttpResult): { retryAfter?: number } {
  const retryAfter = parseRetryAfter(result.headers.get('retry-after'));
  return retryAfter === undefined ? {} : { retryAfter };
}

function invalid(result: HttpResult, why: string): TokenError {
  return new TokenError('INVALID_RESPONSE', `${why} (HTTP ${result.status})`, { status: result.status, ...retryAfterOf(result) });
}

/**
 * Turns an OAuth error body into an {@link OAuthError}, or returns `undefined` when the body is not one.
 * Used for the token and revocation endpoints alike. `secrets` are redacted from the server's text.
 */
export function parseOAuthError(result: HttpResult, body = parseJson(result), secrets: readonly string[] = []): OAuthError | undefined {
  const parsed = schemas.ErrorResponse.safeParse(body);
  if (!parsed.success) return undefined;
  const { error, error_description, error_uri } = parsed.data;
  return new OAuthError(
    {
      error: redact(error, secrets),
      errorDescription: typeof error_description === 'string' ? redact(error_description, secrets) : undefined,
      errorUri: typeof error_uri === 'string' ? redact(error_uri, secrets) : undefined,
      status: result.status,
    },
    retryAfterOf(result),
  );
}

/** The error for any response that is not a 2xx: an {@link OAuthError} when the body says so. */
export function errorFromResponse(result: HttpResult, what: string, secrets: readonly string[] = []): TokenError {
  return parseOAuthError(result, undefined, secrets) ?? invalid(result, `${what} failed`);
}

/**
 * The server's refresh hint: a `refresh_in` member (seconds, as Microsoft Entra sends it) of a token
 * response (kept in `Token.extra`), in ms; `undefined` when absent or malformed (a bad hint is ignored,
 * not a failed response).
 */
export function refreshInOf(extra: Readonly<Record<string, unknown>>): number | undefined {
  const parsed = schemas.RefreshIn.safeParse(extra.refresh_in);
  return parsed.success ? Number(parsed.data) * 1000 : undefined;
}

/** What was asked for, needed to complete the token. */
export interface TokenRequestContext {
  /** Wall-clock time (epoch ms) when the request was sent: `expiresAt` is dated from it. */
  readonly sentAt: number;
  /** Lifetime in ms assumed when `expires_in` is missing. */
  readonly defaultLifetime: number;
  /** The requested scope, reported when the server omits `scope`. */
  readonly requestedScope: string | undefined;
  /** Redacted from the server's text in errors: the client secret in the forms it is sent in. */
  readonly secrets?: readonly string[];
}

/**
 * Processes a token endpoint response (RFC 6749 §5.1, §5.2). Returns the token, or throws an
 * `OAuthError` (also for a 2xx whose body carries `error`) or a `TokenError` `INVALID_RESPONSE`.
 */
export function processTokenResponse(result: HttpResult, context: TokenRequestContext): HeldToken {
  if (result.status < 200 || result.status > 299) throw errorFromResponse(result, 'token request', context.secrets);
  const body = parseJson(result);
  if (typeof body !== 'object' || body === null || Array.isArray(body)) {
    throw invalid(result, 'token response is not a JSON object');
  }
  // Only a body with `error` can be one (checked first: the error schema is built on first use, and
  // nothing slow may stand between a token response and its expiry check).
  const oauthError = 'error' in body ? parseOAuthError(result, body, context.secrets) : undefined;
  if (oauthError) throw oauthError;
  const parsed = schemas.TokenResponse.safeParse(body);
  if (!parsed.success) {
    const fields = [...new Set(parsed.error.issues.map((issue) => issue.path.join('.')))].join(', ');
    throw invalid(result, `token response has missing or malformed ${fields}`);
  }
  const { access_token, token_type, expires_in, scope } = parsed.data;
  const lifetime = expires_in == null ? context.defaultLifetime : Number(expires_in) * 1000;
  const extra = Object.fromEntries(Object.entries(body).filter(([key]) => !OWN_MEMBERS.has(key)));
  const refreshToken = (body as { refresh_token?: unknown }).refresh_token;
  return createToken({
    refreshToken: typeof refreshToken === 'string' && refreshToken !== '' ? refreshToken : undefined,
    accessToken: access_token,
    tokenType: normalizeTokenType(token_type ?? 'Bearer'),
    expiresAt: context.sentAt + lifetime,
    scope: scope ?? context.requestedScope,
    extra,
  });
}
