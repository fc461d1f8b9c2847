import type { Clock } from './util/clock.js';

/**
 * An access token as handed out by {@link ClientCredentialsClient.getToken}.
 *
 * `accessToken` is a getter over private state: `JSON.stringify(token)`, `util.inspect(token)` (even with
 * `showHidden`) and `util.format('%o', token)` leave it out, so that logging a token object does not leak
 * it. Read it directly or destructure it.
 */
export interface Token {
  /** The access token itself. Not enumerable, not shown by `inspect`. */
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

/**
 * A token as kept in a {@link TokenStore}: plain, serialisable data. `sentAt` is when its request was
 * sent (epoch ms), so every process rotates it on the same schedule.
 */
export interface StoredToken {
  /** The access token. Stores that share tokens across hosts should encrypt it (`RedisTokenStore` can). */
  readonly accessToken: string;
  /** As in {@link Token.tokenType}. */
  readonly tokenType: string;
  /** When the token expires, in epoch ms. */
  readonly expiresAt: number;
  /** When its request was sent, in epoch ms: processes that adopt the token rotate it on the same schedule. */
  readonly sentAt: number;
  /** As in {@link Token.scope}. */
  readonly scope?: string | undefined;
  /** As in {@link Token.extra}. */
  readonly extra: Readonly<Record<string, unknown>>;
}

/** Internal: the `Authorization` header value for a token, built once per token. */
export const AUTHORIZATION = Symbol('m2m-token.authorization');

/** Internal: the refresh token that came with a token, if any (RFC 6749 §5.1). Never stored or shown. */
export const REFRESH_TOKEN = Symbol('m2m-token.refreshToken');

/** Internal shape: a {@link Token} with its prebuilt `Authorization` header value. */
export interface HeldToken extends Token {
  readonly [AUTHORIZATION]: string;
  readonly [REFRESH_TOKEN]: string | undefined;
}

/** What a token is requested for: the parts of the cache key that vary per call. */
export interface TokenParams {
  readonly scope: readonly string[];
  readonly audience: string | undefined;
  readonly resource: readonly string[];
  /** For a resource found by discovery: the authorization server to ask instead of the client's own. */
  readonly server?: AuthorizationServerRef | undefined;
}

/** Internal: a discovered authorization server, as a token entry asks it (part of the cache key). */
export interface AuthorizationServerRef {
  readonly issuer: string;
  readonly tokenEndpoint: URL;
  /** The RFC 7638 thumbprint of the DPoP key tokens must be bound to, when the resource requires DPoP. */
  readonly dpop?: string | undefined;
}

/** Internal: a token with when its request was sent, as the cache needs it. */
export interface Issued {
  readonly token: HeldToken;
  /** Monotonic instant ({@link Clock.now}) its request was sent: local expiry is dated from it. */
  readonly sentAt: number;
  /** Wall-clock instant its request was sent: what a store shares. */
  readonly sentAtWall: number;
  /** From `sentAt` to expiry, in ms. */
  readonly lifetime: number;
  /** Attempts at the token endpoint; 0 for a token taken from a store. */
  readonly attempts: number;
  /** The server's `refresh_in` hint, in ms from `sentAt`: when the background refresh should start. */
  readonly refreshIn?: number | undefined;
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

/** The token class: its secret lives in private fields, read through prototype getters. */
class AccessToken implements HeldToken {
  readonly #accessToken: string;
  readonly #authorization: string;
  readonly #refreshToken: string | undefined;
  declare readonly tokenType: string;
  declare readonly expiresAt: number;
  declare readonly scope?: string;
  declare readonly extra: Readonly<Record<string, unknown>>;

  constructor(fields: TokenFields) {
    this.#accessToken = fields.accessToken;
    this.#authorization = `${fields.tokenType} ${fields.accessToken}`;
    this.#refreshToken = fields.refreshToken;
    this.tokenType = fields.tokenType;
    this.expiresAt = fields.expiresAt;
    if (fields.scope !== undefined) this.scope = fields.scope;
    this.extra = Object.isFrozen(fields.extra) ? fields.extra : Object.freeze({ ...fields.extra });
    Object.freeze(this);
  }

  get accessToken(): string {
    return this.#accessToken;
  }

  get [AUTHORIZATION](): string {
    return this.#authorization;
  }

  get [REFRESH_TOKEN](): string | undefined {
    return this.#refreshToken;
  }

  /** `util.inspect` (whatever its options: `showHidden`, `getters`, `%o`) shows the token's fields, never its value. */
  [Symbol.for('nodejs.util.inspect.custom')](
    _depth: number,
    options: object,
    inspect: (value: unknown, options: object) => string,
  ): string {
    const { tokenType, expiresAt, scope, extra } = this;
    return `Token ${inspect({ tokenType, expiresAt, ...(scope !== undefined && { scope }), extra }, options)}`;
  }
}
Object.defineProperty(AccessToken.prototype, Symbol.toStringTag, { value: 'Token' });

type TokenFields = Omit<StoredToken, 'sentAt'> & { readonly refreshToken?: string | undefined };

/**
 * Creates a frozen token whose secret value (and refresh token, kept only in memory: {@link toStored}
 * leaves it out) stays out of JSON and `inspect` output.
 */
export function createToken(fields: TokenFields): HeldToken {
  return new AccessToken(fields);
}

/** The stored form of an issued token. */
export function toStored({ token, sentAtWall }: Issued): StoredToken {
  const { accessToken, tokenType, expiresAt, scope, extra } = token;
  return { accessToken, tokenType, expiresAt, sentAt: sentAtWall, scope, extra };
}

/** Hosts of a fleet disagree about the time: a token sent up to a minute "in the future" is still valid. */
const MAX_FUTURE_SKEW = 60_000;

/**
 * A token read from a store, dated on this process's monotonic clock; `undefined` for an entry that is
 * not a valid one (corrupted, or written by something else): missing or non-string fields, non-finite
 * times, sent after it expires or in the future. An invalid entry is a miss.
 */
export function fromStored(stored: unknown, clock: Clock): Issued | undefined {
  if (typeof stored !== 'object' || stored === null) return undefined;
  const { accessToken, tokenType, expiresAt, sentAt, scope, extra } = stored as Partial<Record<keyof StoredToken, unknown>>;
  if (typeof accessToken !== 'string' || accessToken === '' || typeof tokenType !== 'string' || tokenType === '') return undefined;
  if (typeof expiresAt !== 'number' || typeof sentAt !== 'number' || !Number.isFinite(expiresAt) || !Number.isFinite(sentAt))
    return undefined;
  if (scope !== undefined && typeof scope !== 'string') return undefined;
  if (typeof extra !== 'object' || extra === null || Array.isArray(extra)) return undefined;
  const wall = clock.wall();
  if (sentAt >= expiresAt || sentAt > wall + MAX_FUTURE_SKEW) return undefined;
  const token = createToken({ accessToken, tokenType, expiresAt, scope, extra: extra as Record<string, unknown> });
  return { token, sentAt: clock.now() - (wall - sentAt), sentAtWall: sentAt, lifetime: expiresAt - sentAt, attempts: 0 };
}
