/**
 * Stable machine-readable codes carried by every {@link TokenError}.
 *
 * - `OAUTH_ERROR`: the authorization server answered with an OAuth error (see {@link OAuthError}).
 * - `INVALID_RESPONSE`: the server's answer could not be understood (not JSON, wrong types, too large, …).
 * - `TIMEOUT`: an attempt took longer than the `timeout` option.
 * - `NETWORK`: the request could not be sent or the response could not be read.
 * - `ABORTED`: the caller's `signal` aborted its wait.
 * - `CLOSED`: the client was closed.
 * - `CONFIG`: the client lacks what the operation needs (for example no revocation endpoint is known).
 * - `COOLDOWN`: the token endpoint asked the fleet to back off (HTTP 429, or 503 with `Retry-After`) and
 *   no token request is sent until that cooldown ends; `retryAfter` is the wait left, in ms. Only callers
 *   without a usable token get it (see the `cooldown` option and `getToken({ waitForCooldown })`).
 * - `BUDGET`: the issuance budget (`budget` option) is spent for this window; `retryAfter` is the time
 *   until the window ends, in ms. Callers with a usable token keep getting it.
 */
export type TokenErrorCode =
  | 'OAUTH_ERROR'
  | 'INVALID_RESPONSE'
  | 'TIMEOUT'
  | 'NETWORK'
  | 'ABORTED'
  | 'CLOSED'
  | 'CONFIG'
  | 'COOLDOWN'
  | 'BUDGET';

const BRAND = Symbol.for('m2m-token.TokenError');
const OAUTH_BRAND = Symbol.for('m2m-token.OAuthError');

/** Options accepted by the {@link TokenError} constructor. */
export interface TokenErrorOptions {
  /** The underlying error, kept as `cause`. */
  cause?: unknown;
  /** HTTP status of the response that caused the error, when there was one. */
  status?: number;
  /** The delay the response asked for in `Retry-After`, in ms. */
  retryAfter?: number | undefined;
}

/**
 * Base class of every error m2m-token rejects with. Branch on {@link TokenError.code};
 * {@link TokenError.is} also recognises errors from another copy of the package.
 *
 * Messages never contain the client secret, private keys or tokens.
 *
 * @example
 * ```ts
 * try { await client.getToken(); }
 * catch (e) { if (TokenError.is(e) && e.code === 'TIMEOUT') { … } }
 * ```
 */
export class TokenError extends Error {
  /** Stable machine-readable reason. */
  readonly code: TokenErrorCode;
  /** HTTP status of the response, when the error came from one. */
  readonly status: number | undefined;
  /**
   * The delay the server asked for with `Retry-After` (RFC 9110 §10.2.3), in ms, when its response had
   * one; retries wait at least this long (capped by `retry.maxDelay`).
   */
  readonly retryAfter: number | undefined;

  constructor(code: TokenErrorCode, message: string, options: TokenErrorOptions = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'TokenError';
    this.code = code;
    this.status = options.status;
    this.retryAfter = options.retryAfter;
    Object.defineProperty(this, BRAND, { value: true });
  }

  /** True for any `TokenError`, including ones created by a different copy of this package. */
  static is(value: unknown): value is TokenError {
    return typeof value === 'object' && value !== null && (value as Record<symbol, unknown>)[BRAND] === true;
  }
}

/**
 * The authorization server answered with an OAuth 2.0 error response (RFC 6749 §5.2, RFC 7009 §2.2.1).
 * `code` is always `OAUTH_ERROR`.
 *
 * @see https://www.rfc-editor.org/rfc/rfc6749#section-5.2
 */
export class OAuthError extends TokenError {
  /** The `error` code sent by the server, for example `invalid_client`. */
  readonly error: string;
  /** The server's `error_description`, if any. */
  readonly errorDescription: string | undefined;
  /** The server's `error_uri`, if any. */
  readonly errorUri: string | undefined;
  declare readonly status: number;

  constructor(
    fields: { error: string; errorDescription?: string | undefined; errorUri?: string | undefined; status: number },
    options: { cause?: unknown; retryAfter?: number | undefined } = {},
  ) {
    // Server text goes into log lines: control characters (a forged line break) become spaces.
    const printable = (text: string) => text.replace(/[\u0000-\u001f\u007f]/g, ' ');
    const detail = fields.errorDescription ? `: ${printable(fields.errorDescription)}` : '';
    super('OAUTH_ERROR', `authorization server returned ${printable(fields.error)} (HTTP ${fields.status})${detail}`, {
      cause: options.cause,
      status: fields.status,
      ...(options.retryAfter !== undefined && { retryAfter: options.retryAfter }),
    });
    this.name = 'OAuthError';
    this.error = fields.error;
    this.errorDescription = fields.errorDescription;
    this.errorUri = fields.errorUri;
    Object.defineProperty(this, OAUTH_BRAND, { value: true });
  }

  /** True for any `OAuthError`, including ones created by a different copy of this package; false for other `TokenError`s. */
  static override is(value: unknown): value is OAuthError {
    return typeof value === 'object' && value !== null && (value as Record<symbol, unknown>)[OAUTH_BRAND] === true;
  }
}

/** @internal Any failure as a `TokenError`: unexpected ones become `NETWORK` with the original as `cause`. */
export function asTokenError(error: unknown): TokenError {
  return TokenError.is(error) ? error : new TokenError('NETWORK', 'unexpected failure', { cause: error });
}

/** @internal The error of a caller whose own `signal` ended its wait. */
export function abortedError(signal: AbortSignal): TokenError {
  return new TokenError('ABORTED', 'the caller aborted its wait for a token', { cause: signal.reason });
}
