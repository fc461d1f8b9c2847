import type { BudgetOptions } from './acquire/budget.js';
import type { CooldownOptions } from './acquire/cooldown.js';
import type { Logger } from './events.js';
import type { ClientAuthMethod } from './protocol/client-auth.js';
import type { AssertionFile, ClientAssertionOptions } from './assertion-options.js';
import type { CredentialProvider } from './protocol/credential-source.js';
import type { DPoPOptions } from './protocol/dpop.js';
import type { PrivateKeyInput } from './protocol/keys.js';
import type { TlsOptions, TlsProvider } from './protocol/mtls.js';
import type { ProxyOption } from './protocol/transport.js';
import type { ResourceDiscoveryOptions } from './resources/options.js';
import type { TokenStore } from './store.js';
import type { TraceSink } from './trace.js';

export type { AssertionFile, BudgetOptions, ClientAssertionOptions, ClientAuthMethod, CooldownOptions, CredentialProvider };

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
  /**
   * The client secret, or a function returning it (for example {@link secretFromFile}), called whenever
   * a request needs it: a secret that rotates is picked up without a restart, and a request refused
   * with `invalid_client` is sent once more at once when the function returns a different secret.
   * Never logged, serialised or shown by `inspect`.
   */
  clientSecret?: string | CredentialProvider<string>;
  /**
   * The private key of `private_key_jwt`: a JWK, a PEM string or a `KeyObject`, or a function returning
   * one, called for every assertion (a new key, and its JWK `kid`, is used as soon as it returns one).
   * Never logged or serialised.
   */
  privateKey?: PrivateKeyInput | CredentialProvider<PrivateKeyInput>;
  /**
   * Client authentication method. When not set and the endpoints come from discovery, a method the
   * server's `token_endpoint_auth_methods_supported` lists is used instead of the default if the
   * default is not listed (client_secret_basic, client_secret_post, client_secret_jwt, private_key_jwt,
   * tls_client_auth, self_signed_tls_client_auth, in that order, among those the credentials allow).
   * @default 'client_secret_basic' with a secret, 'private_key_jwt' with a private key, 'tls_client_auth' with `tls`, else 'none'
   */
  clientAuth?: ClientAuthMethod | undefined;
  /** Client assertions of `private_key_jwt` and `client_secret_jwt`, or one made elsewhere (`token`). */
  clientAssertion?: ClientAssertionOptions | undefined;
  /**
   * How `client_secret_basic` encodes the client id and secret before base64: `'form'`, form-encoded
   * first, as RFC 6749 §2.3.1 requires; `'raw'`, as they are, for servers that do not form-decode
   * them; `'auto'`, form-encoded, and when that changed them (reserved characters such as `: + % &`
   * or a space) and the token endpoint refuses them (`invalid_client` or a bare 401 / 403), once
   * more raw: the encoding that worked is kept for the client's later requests.
   * @default 'auto'
   */
  basicEncoding?: 'form' | 'raw' | 'auto' | undefined;
  /**
   * A client certificate for mutual TLS (RFC 8705): client authentication with `tls_client_auth` /
   * `self_signed_tls_client_auth`, and certificate-bound tokens, presented to resource servers by the
   * client's `fetch` too; and/or certificate authorities to trust (`{ ca }` alone: a private CA of the
   * authorization server). Needs the `undici` package. Cannot be combined with `fetch`.
   *
   * Or a function returning the certificate and key (for example {@link tlsFromFiles}), for a client
   * certificate that rotates (cert-manager, SPIFFE): asked before each token request, when a connection
   * failed, and after `invalid_client` (or a bare 401 / 403), within `timeout`. When it returns a
   * different certificate or key, new requests go over new connections presenting it (those open with
   * the previous one may finish their requests for 5 minutes, then close) and tokens bound to the
   * previous certificate are dropped: they are never handed out again. An answer that throws, is not
   * `{ cert, key }` or whose key does not belong to the certificate fails the request with `TokenError`
   * `CONFIG` (never quoting the answer) and is asked again on the next one.
   */
  tls?: TlsOptions | TlsProvider | undefined;
  /**
   * An HTTP proxy for every request of the client (token, revocation, discovery, and its `fetch`):
   * `'env'` for `HTTPS_PROXY` / `HTTP_PROXY` / `NO_PROXY` (or their lower-case forms), or the proxy's
   * URL. Works with `tls` (tunnelled with `CONNECT`) and DPoP. Needs the `undici` package. Cannot be
   * combined with `fetch`.
   * @default no proxy (Node's global `fetch` ignores the proxy environment variables)
   */
  proxy?: ProxyOption | undefined;
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
   * Time limit of each attempt, from sending the request to reading the whole body. Also the longest wait
   * for a credential provider (`clientSecret`, `privateKey`, `clientAssertion.token` or `tls` given as a
   * function): one that has not answered by then fails the request with `TokenError` `CONFIG` (not
   * `TIMEOUT`, which is retried: a provider that hangs is the client's own configuration failing, like one
   * that throws), and is asked again on the next request.
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
   * After `invalid_client` (or a bare 401 / 403 from the token endpoint, which some servers send for
   * bad credentials), token requests fail fast with the same error for this long instead of calling
   * the server again.
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
   * Called with each HTTP exchange with the authorization server (token, revocation and discovery
   * requests): method, URL, status, duration, headers and bodies, with every secret redacted by field
   * (client secret, `Authorization` values, `client_assertion`, tokens; DPoP proofs as header and claims
   * only). For troubleshooting; the CLI's `--verbose` prints the same.
   */
  trace?: TraceSink | undefined;
  /**
   * Tokens for resources known only by URL (RFC 9728, as MCP servers publish them): a 401 from a
   * resource that names its metadata leads `client.fetch` to the authorization server the resource
   * names — only if it is one of `authorizationServers` — and a token for that resource. With it,
   * `tokenEndpoint` and `issuer` are optional: they are the default for other requests.
   * @default none: `client.fetch` always sends the client's default token
   */
  resourceDiscovery?: ResourceDiscoveryOptions | undefined;
  /**
   * When a token response carries a `refresh_token`, renew with it (`grant_type=refresh_token`, RFC 6749
   * §6), keeping the newest one the server sends, and fall back to the client credentials grant when it
   * is refused (`invalid_grant`). A refresh token stays in this client's memory: it is never put in a
   * `store`, logged or shown, and `revoke()` / `close({ revoke: true })` revoke it too. `false` ignores
   * refresh tokens.
   * @default true
   */
  refreshTokens?: boolean | undefined;
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

/** The defaults, declared once. */
export const defaults = Object.freeze({
  /** {@link ClientCredentialsOptions.timeout}, ms. */
  timeout: 10_000,
  /** {@link ClientCredentialsOptions.retry}. */
  retry: Object.freeze({
    /** {@link RetryOptions.retries}. */
    retries: 3,
    /** {@link RetryOptions.minDelay}, ms. */
    minDelay: 250,
    /** {@link RetryOptions.maxDelay}, ms. */
    maxDelay: 10_000,
  }),
  /** {@link ClientCredentialsOptions.allowInsecureHttp}. */
  allowInsecureHttp: false,
  /** {@link ClientCredentialsOptions.expiryMargin}, ms. */
  expiryMargin: 30_000,
  /** {@link ClientCredentialsOptions.refreshRatio}. */
  refreshRatio: 0.8,
  /** {@link ClientCredentialsOptions.refreshJitter}. */
  refreshJitter: 0.05,
  /** {@link ClientCredentialsOptions.defaultLifetime}, ms. */
  defaultLifetime: 300_000,
  /** {@link ClientCredentialsOptions.maxCacheEntries}. */
  maxCacheEntries: 100,
  /** {@link ClientCredentialsOptions.maxResponseBytes}. */
  maxResponseBytes: 1_048_576,
  /** {@link ClientCredentialsOptions.invalidClientBackoff}, ms. */
  invalidClientBackoff: 5_000,
  /** {@link ClientAssertionOptions.lifetime}, ms. */
  assertionLifetime: 60_000,
  /** `timeout` of `close()`, ms. */
  closeTimeout: 5_000,
} as const);

export type { ResolvedOptions } from './resolved-options.js';
