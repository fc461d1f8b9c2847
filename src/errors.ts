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
 */
export type TokenErrorCode =
  | 'OAUTH_ERROR'
  | 'INVALID_RESPONSE'
  | 'TIMEOUT'
  | 'NETWORK'
  | 'ABORTED'
  | 'CLOSED'
  | 'CONFIG';

const BRAND = Symbol.for('m2m-token.TokenError');

/** Options accepted by the {@link TokenError} constructor. */
export interface TokenErrorOptions {
  /** The underlying error, kept as `cause`. */
  cause?: unknown;
  /** HTTP status of the response that caused the error, when there was one. */
  status?: number;
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

  constructor(code: TokenErrorCode, message: string, options: TokenErrorOptions = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'TokenError';
    this.code = code;
    this.status = options.status;
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
    options: { cause?: unknown } = {},
  ) {
    // Server text goes into log lines: control characters (a forged line break) become spaces.
    const printable = (text: string) => text.replace(/[\u0000-\u001f\u007f]/g, ' ');
    const detail = fields.errorDescription ? `: ${printable(fields.errorDescription)}` : '';
    super('OAUTH_ERROR', `authorization server returned ${printable(fields.error)} (HTTP ${fields.status})${detail}`, {
      cause: options.cause,
      status: fields.status,
    });
    this.name = 'OAuthError';
    this.error = fields.error;
    this.errorDescription = fields.errorDescription;
    this.errorUri = fields.errorUri;
  }
}
