import type { BudgetOptions, BudgetPolicy } from './acquire/budget.js';
import type { CooldownOptions, CooldownPolicy } from './acquire/cooldown.js';
import type { TokenError } from './errors.js';
import type { Logger } from './events.js';
import type { ClientAuthMethod } from './protocol/client-auth.js';
import type { DPoPOptions } from './protocol/dpop.js';
import type { PrivateKeyInput, SigningKey } from './protocol/keys.js';
import type { TlsOptions } from './protocol/mtls.js';
import type { RetryPolicy } from './protocol/retry.js';
import type { TokenStore } from './store.js';

export type { BudgetOptions, ClientAuthMethod, CooldownOptions };

/** How client assertions (`private_key_jwt`, `client_secret_jwt`) are made. */
export interface ClientAssertionOptions {
  /** Signing algorithm of `private_key_jwt`. @default inferred from the key: RS256, PS256 (RSA-PSS keys), ES256/ES384/ES512, EdDSA */
  alg?: string | undefined;
  /** `kid` header. @default the JWK's `kid`, if any */
  kid?: string | undefined;
  /**
   * The assertion's `aud`: `'issuer'`, the authorization server's issuer identifier (RFC 7523bis, the
   * safe default since CVE-2025-27370); `'token_endpoint'`, the token endpoint URL, for every endpoint;
   * `'endpoint'`, the URL of the endpoint being called (the token endpoint for token requests, the
   * revocation endpoint for revocation), for servers that accept only that. Without a known issuer,
   * `'issuer'` means the token endpoint URL.
   * @default 'issuer'
   */
  audience?: 'issuer' | 'token_endpoint' | 'endpoint' | undefined;
  /** Lifetime of each assertion (`exp − iat`), in ms. @default 60000 */
  lifetime?: number | undefined;
}

/** Retry policy for the token, revocation and discovery requests. */
export interface RetryOptions {
  /**
   * How many times a transient failure (network error, timeout, HTTP 5xx or 429) is retried.
   * @default 3
   */
  retries?: number | undefined;
  /**
   * Delay before the first retry, in ms; each later delay doubles, with jitter (×1 to ×2).
   * @default 250
   */
  minDelay?: number | undefined;
  /**
   * Upper bound of any single delay, in ms, including one asked for by `Retry-After`.
   * @default 10000
   */
  maxDelay?: number | undefined;
}

/** Options of {@link ClientCredentialsClient}. Every timing is in milliseconds. */
export interface ClientCredentialsOptions {
  /** The token endpoint URL. Either this or `issuer` is required. */
  tokenEndpoint?: string | URL | undefined;
  /**
   * The authorization server's issuer identifier. Endpoints missing from the options are discovered
   * from its metadata (RFC 8414, then OpenID Connect Discovery), fetched once.
   */
  issuer?: string | URL | undefined;
  /** The revocation endpoint (RFC 7009). Discovered from `issuer` when omitted. */
  revocationEndpoint?: string | URL | undefined;
  /** The client identifier. */
  clientId: string;
  /** The client secret. Never logged, serialised or shown by `inspect`. */
  clientSecret?: string;
  /** The private key of `private_key_jwt`: a JWK, a PEM string or a `KeyObject`. Never logged or serialised. */
  privateKey?: PrivateKeyInput;
  /**
   * Client authentication method.
   * @default 'client_secret_basic' with a secret, 'private_key_jwt' with a private key, 'tls_client_auth' with `tls`, else 'none'
   */
  clientAuth?: ClientAuthMethod | undefined;
  /** Client assertions of `private_key_jwt` and `client_secret_jwt`. */
  clientAssertion?: ClientAssertionOptions | undefined;
  /**
   * A client certificate for mutual TLS (RFC 8705): client authentication with `tls_client_auth` /
   * `self_signed_tls_client_auth`, and certificate-bound tokens, presented to resource servers by the
   * client's `fetch` too. Needs the `undici` package. Cannot be combined with `fetch`.
   */
  tls?: TlsOptions | undefined;
  /**
   * Sender-constrained tokens with DPoP (RFC 9449): `true` for a generated ES256 key, or `{ privateKey, alg }`.
   * Needs the `jose` package.
   * @default false
   */
  dpop?: boolean | DPoPOptions | undefined;
  /** Scopes requested by default; order does not matter. */
  scope?: string | readonly string[] | undefined;
  /** `audience` parameter sent with every token request by default (Auth0, Okta and others). */
  audience?: string | undefined;
  /** Resource indicators (RFC 8707) sent by default. */
  resource?: string | readonly string[] | undefined;
  /** Further form parameters sent with every token request. They cannot override the grant's own. */
  extraParams?: Readonly<Record<string, string>> | undefined;
  /**
   * Time limit of each attempt, from sending the request to reading the whole body.
   * @default 10000
   */
  timeout?: number | undefined;
  /**
   * Retry policy, or `false` to never retry.
   * @default { retries: 3, minDelay: 250, maxDelay: 10000 }
   */
  retry?: RetryOptions | false | undefined;
  /** A `fetch` implementation. By default `globalThis.fetch`, looked up at call time. */
  fetch?: FetchLike | undefined;
  /**
   * Allow `http:` endpoints on hosts other than loopback. Never do this in production.
   * @default false
   */
  allowInsecureHttp?: boolean | undefined;
  /**
   * A token is never handed out later than this long before it expires. For short-lived tokens the
   * margin shrinks to a tenth of the lifetime.
   * @default 30000
   */
  expiryMargin?: number | undefined;
  /**
   * Fraction of a token's usable lifetime (lifetime minus margin) after which it is refreshed in the
   * background while callers keep getting the current token.
   * @default 0.8
   */
  refreshRatio?: number | undefined;
  /**
   * The background refresh starts up to this fraction of the lifetime earlier, at random, so that a
   * fleet of processes does not refresh in lockstep.
   * @default 0.05
   */
  refreshJitter?: number | undefined;
  /**
   * Lifetime assumed when the server omits `expires_in`.
   * @default 300000
   */
  defaultLifetime?: number | undefined;
  /**
   * Most distinct token entries (scope / audience / resource combinations) kept; the least recently
   * used is dropped beyond it.
   * @default 100
   */
  maxCacheEntries?: number | undefined;
  /**
   * Largest response body read from the authorization server, in bytes.
   * @default 1048576
   */
  maxResponseBytes?: number | undefined;
  /**
   * After `invalid_client`, token requests fail fast with the same error for this long instead of
   * calling the server again.
   * @default 5000
   */
  invalidClientBackoff?: number | undefined;
  /**
   * Where to log token acquisition (`debug`), retries (`warn`), failures (`error`, or `warn` for a
   * failed background refresh) and revocations (`info`): pino, bunyan, `console` or anything with
   * those methods, called as `(fields, message)`. Never given secrets or tokens.
   * @default none
   */
  logger?: Logger | undefined;
  /**
   * Where tokens are shared beyond this client: a `MemoryTokenStore` shares them between clients of one
   * process, a `RedisTokenStore` (`m2m-token/redis`) across a fleet, with one token request per rotation
   * for all of it. The client always keeps its own copy too, so the cached path never touches the store.
   * @default none: tokens live in this client's memory only
   */
  store?: TokenStore | undefined;
  /**
   * The cooldown after the token endpoint answers 429 (or 503 with `Retry-After`): shared through the
   * `store` when it supports it (`MemoryTokenStore`, `RedisTokenStore`), else for this client's keys.
   * Callers with a usable token keep getting it; others get `COOLDOWN` at once (see `waitForCooldown`).
   * @default { max: 60000, default429: 30000 }
   */
  cooldown?: CooldownOptions | undefined;
  /**
   * An issuance budget, e.g. `{ limit: 100, per: 3_600_000 }`: token requests beyond `limit` in a window
   * are refused with `BUDGET` (callers with a usable token keep getting it); a `budget` event warns from
   * 80 % on. Counted in the `store` when it supports it (fleet-wide), else per client.
   * @default none
   */
  budget?: BudgetOptions | undefined;
}

/**
 * A `fetch` function: the global one, undici's own `fetch` (whose `Request` and `Response` types are
 * declared apart from the global ones), or any function of that shape. Typed loosely on purpose: the
 * client calls it with a URL and a `RequestInit` and reads a WHATWG `Response`.
 */
// biome-ignore lint/suspicious/noExplicitAny: any fetch implementation's own parameter types must fit.
export type FetchLike = (input: any, init?: any) => Promise<Response>;

/** Per-call options of {@link ClientCredentialsClient.getToken}. Unset fields take the client's. */
export interface GetTokenOptions {
  /** Scope for this token instead of the client's. */
  scope?: string | readonly string[] | undefined;
  /** Audience for this token instead of the client's. */
  audience?: string | undefined;
  /** Resource indicators (RFC 8707) for this token instead of the client's. */
  resource?: string | readonly string[] | undefined;
  /** Skip the cache and request a new token (joins a request already in flight for the same key). */
  forceRefresh?: boolean | undefined;
  /** Aborts this caller's wait (`ABORTED`); the shared request carries on for the others. */
  signal?: AbortSignal | undefined;
  /**
   * During a token endpoint cooldown, a caller without a usable token waits for the cooldown to end
   * (until its `signal` aborts; without one, at most `cooldown.max`) instead of getting `COOLDOWN` at once.
   * @default false
   */
  waitForCooldown?: boolean | undefined;
}

/** Options of {@link ClientCredentialsClient.close}. */
export interface CloseOptions {
  /**
   * Revoke every token the client holds (RFC 7009) before resolving, in parallel and best effort.
   * @default false
   */
  revoke?: boolean | undefined;
  /**
   * Most time the revocations may take, in ms; what is unfinished then is reported as a `TIMEOUT` error.
   * @default 5000
   */
  timeout?: number | undefined;
  /**
   * With a shared `store` (Redis), also revoke the tokens the rest of the fleet is using, and delete
   * them from the store. Without it, `revoke: true` leaves shared tokens alone (counted in `skipped`).
   * @default false
   */
  revokeShared?: boolean | undefined;
}

/** What {@link ClientCredentialsClient.close} did. It resolves with this; it never rejects. */
export interface CloseResult {
  /** How many tokens were revoked. */
  readonly revoked: number;
  /** One error per token that could not be revoked (or one `CONFIG` error if no endpoint is known). */
  readonly errors: readonly TokenError[];
  /** Tokens not revoked because they are shared with other processes through the store. */
  readonly skipped: number;
}

/** The defaults, declared once. */
export const defaults = Object.freeze({
  timeout: 10_000,
  retry: Object.freeze({ retries: 3, minDelay: 250, maxDelay: 10_000 }),
  allowInsecureHttp: false,
  expiryMargin: 30_000,
  refreshRatio: 0.8,
  refreshJitter: 0.05,
  defaultLifetime: 300_000,
  maxCacheEntries: 100,
  maxResponseBytes: 1_048_576,
  invalidClientBackoff: 5_000,
  assertionLifetime: 60_000,
  closeTimeout: 5_000,
} as const);

/** Options after validation, with every default applied. */
export interface ResolvedOptions {
  tokenEndpoint: URL | undefined;
  /** The issuer exactly as configured (a URL object's `href`), compared verbatim with the metadata's. */
  issuer: string | undefined;
  /**
   * The issuer was given as a `URL` object, whose `href` always ends a bare origin with `/`: discovery
   * then accepts the metadata's issuer with or without that trailing slash.
   */
  issuerFromUrl: boolean;
  revocationEndpoint: URL | undefined;
  clientId: string;
  clientSecret: string | undefined;
  clientAuth: ClientAuthMethod;
  signingKey: SigningKey | undefined;
  assertionAudience: 'issuer' | 'token_endpoint' | 'endpoint';
  assertionLifetime: number;
  tls: TlsOptions | undefined;
  dpop: DPoPOptions | true | undefined;
  scope: readonly string[];
  audience: string | undefined;
  resource: readonly string[];
  extraParams: Readonly<Record<string, string>>;
  timeout: number;
  retry: RetryPolicy;
  fetch: typeof globalThis.fetch | undefined;
  allowInsecureHttp: boolean;
  expiryMargin: number;
  refreshRatio: number;
  refreshJitter: number;
  defaultLifetime: number;
  maxCacheEntries: number;
  maxResponseBytes: number;
  invalidClientBackoff: number;
  logger: Logger | undefined;
  store: TokenStore | undefined;
  cooldown: CooldownPolicy;
  budget: BudgetPolicy | undefined;
}
