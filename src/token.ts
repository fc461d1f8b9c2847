/**
 * An access token as handed out by {@link ClientCredentialsClient.getToken}.
 *
 * `accessToken` is a non-enumerable property: `JSON.stringify(token)` and `util.inspect(token)` leave it
 * out, so that logging a token object does not leak it. Read it directly or destructure it.
 */
export interface Token {
  /** The access token itself. Non-enumerable. */
  readonly accessToken: string;
  /** The token type, normalised: `Bearer` or `DPoP` whatever the server's casing, otherwise as sent. */
  readonly tokenType: string;
  /** When the token expires, in epoch milliseconds, dated from when its request was sent. */
  readonly expiresAt: number;
  /** The granted scope: the server's `scope`, or the requested scope when the server omitted it. */
  readonly scope?: string;
  /** Every other member of the token response, for example `issued_token_type`. */
  readonly extra: Readonly<Record<string, unknown>>;
}

/** Internal: the `Authorization` header value for a token, built once per token. */
export const AUTHORIZATION = Symbol('m2m-token.authorization');

/** Internal shape: a {@link Token} with its prebuilt `Authorization` header value. */
export interface HeldToken extends Token {
  readonly [AUTHORIZATION]: string;
}

// A Map, not an object literal: `token_type` comes from the server, and `constructor` or `__proto__`
// must not find Object.prototype members.
const KNOWN_TYPES: ReadonlyMap<string, string> = new Map([
  ['bearer', 'Bearer'],
  ['dpop', 'DPoP'],
]);

/** Normalises a `token_type` (compared case-insensitively, RFC 6749 §7.1). */
export function normalizeTokenType(type: string): string {
  return KNOWN_TYPES.get(type.toLowerCase()) ?? type;
}

/** Creates a frozen token whose secret value stays out of JSON and `inspect` output. */
export function createToken(fields: {
  readonly accessToken: string;
  readonly tokenType: string;
  readonly expiresAt: number;
  readonly scope?: string | undefined;
  readonly extra: Readonly<Record<string, unknown>>;
}): HeldToken {
  const token = { tokenType: fields.tokenType, expiresAt: fields.expiresAt } as Record<string | symbol, unknown>;
  if (fields.scope !== undefined) token.scope = fields.scope;
  token.extra = Object.isFrozen(fields.extra) ? fields.extra : Object.freeze({ ...fields.extra });
  Object.defineProperty(token, 'accessToken', { value: fields.accessToken, enumerable: false });
  Object.defineProperty(token, AUTHORIZATION, { value: `${fields.tokenType} ${fields.accessToken}`, enumerable: false });
  return Object.freeze(token) as unknown as HeldToken;
}
