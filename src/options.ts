import type { DPoPOptions } from './dpop.js';
import type { Logger } from './events.js';
import { type PrivateKeyInput, type SigningKey, signingKey } from './keys.js';
import type { TlsOptions } from './mtls.js';
import type { TokenStore } from './store.js';

/**
 * How the client authenticates to the token and revocation endpoints: RFC 6749 §2.3 (secrets),
 * RFC 7523 (JWT assertions), RFC 8705 (mutual TLS), or `none` for public clients.
 */
export type ClientAuthMethod =
  | 'client_secret_basic'
  | 'client_secret_post'
  | 'client_secret_jwt'
  | 'private_key_jwt'
  | 'tls_client_auth'
  | 'self_signed_tls_client_auth'
  | 'none';

/** How client assertions (`private_key_jwt`, `client_secret_jwt`) are made. */
export interface ClientAssertionOptions {
  /** Signing algorithm of `private_key_jwt`. @default inferred from the key: RS256, PS256 (RSA-PSS keys), ES256/ES384/ES512, EdDSA */
  alg?: string;
  /** `kid` header. @default the JWK's `kid`, if any */
  kid?: string;
  /**
   * The assertion's `aud`: the authorization server's issuer identifier, or the token endpoint URL for
   * servers that want that. Without a known issuer, the token endpoint URL is used.
   * @default 'issuer'
   */
  audience?: 'issuer' | 'token_endpoint';
  /** Lifetime of each assertion (`exp − iat`), in ms. @default 60000 */
  lifetime?: number;
}

/** Retry policy for the token, revocation and discovery requests. */
export interface RetryOptions {
  /**
   * How many times a transient failure (network error, timeout, HTTP 5xx or 429) is retried.
   * @default 3
   */
  retries?: number;
  /**
   * Delay before the first retry, in ms; each later delay doubles, with jitter (×1 to ×2).
   * @default 250
   */
  minDelay?: number;
  /**
   * Upper bound of any single delay, in ms, including one asked for by `Retry-After`.
   * @default 10000
   */
  maxDelay?: number;
}

/** Options of {@link ClientCredentialsClient}. Every timing is in milliseconds. */
export interface ClientCredentialsOptions {
  /** The token endpoint URL. Either this or `issuer` is required. */
  tokenEndpoint?: string | URL;
  /**
   * The authorization server's issuer identifier. Endpoints missing from the options are discovered
   * from its metadata (RFC 8414, then OpenID Connect Discovery), fetched once.
   */
  issuer?: string | URL;
  /** The revocation endpoint (RFC 7009). Discovered from `issuer` when omitted. */
  revocationEndpoint?: string | URL;
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
  clientAuth?: ClientAuthMethod;
  /** Client assertions of `private_key_jwt` and `client_secret_jwt`. */
  clientAssertion?: ClientAssertionOptions;
  /**
   * A client certificate for mutual TLS (RFC 8705): client authentication with `tls_client_auth` /
   * `self_signed_tls_client_auth`, and certificate-bound tokens, presented to resource servers by the
   * client's `fetch` too. Needs the `undici` package. Cannot be combined with `fetch`.
   */
  tls?: TlsOptions;
  /**
   * Sender-constrained tokens with DPoP (RFC 9449): `true` for a generated ES256 key, or `{ privateKey, alg }`.
   * Needs the `jose` package.
   * @default false
   */
  dpop?: boolean | DPoPOptions;
  /** Scopes requested by default; order does not matter. */
  scope?: string | readonly string[];
  /** `audience` parameter sent with every token request by default (Auth0, Okta and others). */
  audience?: string;
  /** Resource indicators (RFC 8707) sent by default. */
  resource?: string | readonly string[];
  /** Further form parameters sent with every token request. They cannot override the grant's own. */
  extraParams?: Readonly<Record<string, string>>;
  /**
   * Time limit of each attempt, from sending the request to reading the whole body.
   * @default 10000
   */
  timeout?: number;
  /**
   * Retry policy, or `false` to never retry.
   * @default { retries: 3, minDelay: 250, maxDelay: 10000 }
   */
  retry?: RetryOptions | false;
  /** A `fetch` implementation. By default `globalThis.fetch`, looked up at call time. */
  fetch?: typeof globalThis.fetch;
  /**
   * Allow `http:` endpoints on hosts other than loopback. Never do this in production.
   * @default false
   */
  allowInsecureHttp?: boolean;
  /**
   * A token is never handed out later than this long before it expires. For short-lived tokens the
   * margin shrinks to a tenth of the lifetime.
   * @default 30000
   */
  expiryMargin?: number;
  /**
   * Fraction of a token's usable lifetime (lifetime minus margin) after which it is refreshed in the
   * background while callers keep getting the current token.
   * @default 0.8
   */
  refreshRatio?: number;
  /**
   * The background refresh starts up to this fraction of the lifetime earlier, at random, so that a
   * fleet of processes does not refresh in lockstep.
   * @default 0.05
   */
  refreshJitter?: number;
  /**
   * Lifetime assumed when the server omits `expires_in`.
   * @default 300000
   */
  defaultLifetime?: number;
  /**
   * Most distinct token entries (scope / audience / resource combinations) kept; the least recently
   * used is dropped beyond it.
   * @default 100
   */
  maxCacheEntries?: number;
  /**
   * Largest response body read from the authorization server, in bytes.
   * @default 1048576
   */
  maxResponseBytes?: number;
  /**
   * After `invalid_client`, token requests fail fast with the same error for this long instead of
   * calling the server again.
   * @default 5000
   */
  invalidClientBackoff?: number;
  /**
   * Where to log token acquisition (`debug`), retries (`warn`), failures (`error`, or `warn` for a
   * failed background refresh) and revocations (`info`): pino, bunyan, `console` or anything with
   * those methods, called as `(fields, message)`. Never given secrets or tokens.
   * @default none
   */
  logger?: Logger;
  /**
   * Where tokens are shared beyond this client: a `MemoryTokenStore` shares them between clients of one
   * process, a `RedisTokenStore` (`m2m-token/redis`) across a fleet, with one token request per rotation
   * for all of it. The client always keeps its own copy too, so the cached path never touches the store.
   * @default none: tokens live in this client's memory only
   */
  store?: TokenStore;
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
  assertionAudience: 'issuer' | 'token_endpoint';
  assertionLifetime: number;
  tls: TlsOptions | undefined;
  dpop: DPoPOptions | true | undefined;
  scope: readonly string[];
  audience: string | undefined;
  resource: readonly string[];
  extraParams: Readonly<Record<string, string>>;
  timeout: number;
  retry: Required<RetryOptions>;
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
}

const CLIENT_AUTH_METHODS: readonly ClientAuthMethod[] = [
  'client_secret_basic',
  'client_secret_post',
  'client_secret_jwt',
  'private_key_jwt',
  'tls_client_auth',
  'self_signed_tls_client_auth',
  'none',
];
const NEEDS: Partial<Record<ClientAuthMethod, 'clientSecret' | 'privateKey' | 'tls'>> = {
  client_secret_basic: 'clientSecret',
  client_secret_post: 'clientSecret',
  client_secret_jwt: 'clientSecret',
  private_key_jwt: 'privateKey',
  tls_client_auth: 'tls',
  self_signed_tls_client_auth: 'tls',
};
const RESERVED_PARAMS = new Set(['grant_type', 'client_id', 'client_secret', 'scope', 'audience', 'resource']);

function fail(option: string, expected: string): never {
  throw new TypeError(`m2m-token: option \`${option}\` must be ${expected}`);
}

/** The longest delay a Node.js timer can wait (about 24.8 days). */
const MAX_TIMER = 2_147_483_647;

function nonNegative(option: string, value: unknown, fallback: number, { integer = false, max = Infinity } = {}): number {
  if (value === undefined) return fallback;
  if (typeof value !== 'number' || !Number.isFinite(value) || value < 0 || value > max || (integer && !Number.isInteger(value))) {
    fail(option, `a ${integer ? 'non-negative integer' : 'non-negative number'}${max < Infinity ? ` not above ${max}` : ''}`);
  }
  return value;
}

function positive(option: string, value: unknown, fallback: number, max = Infinity): number {
  const n = nonNegative(option, value, fallback, { integer: true, max });
  if (n === 0) fail(option, 'a positive integer');
  return n;
}

function isLoopback(hostname: string): boolean {
  return hostname === 'localhost' || hostname === '[::1]' || /^127(?:\.\d{1,3}){3}$/.test(hostname);
}

/**
 * Parses an endpoint URL and refuses plain `http:` unless the host is loopback or insecure HTTP was
 * allowed. Throws a `TypeError` naming `what`.
 */
export function parseEndpoint(what: string, value: string | URL, allowInsecureHttp: boolean): URL {
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    fail(what, 'an absolute URL');
  }
  if (url.protocol !== 'https:' && url.protocol !== 'http:') fail(what, 'an https: URL');
  if (url.protocol === 'http:' && !allowInsecureHttp && !isLoopback(url.hostname)) {
    fail(what, 'an https: URL (http: is allowed only for loopback hosts or with `allowInsecureHttp: true`)');
  }
  if (url.hash) fail(what, 'a URL without a fragment');
  // fetch refuses such URLs anyway, and they would show up in toJSON, inspect and error messages.
  if (url.username || url.password) fail(what, 'a URL without credentials (use `clientId` and `clientSecret`)');
  return url;
}

/** Normalises a `string | string[]` option to a list of unique, non-empty strings. */
export function stringList(option: string, value: unknown): readonly string[] {
  if (value === undefined) return [];
  const items = typeof value === 'string' ? [value] : value;
  if (!Array.isArray(items) || !items.every((s) => typeof s === 'string')) fail(option, 'a string or an array of strings');
  return [...new Set((items as string[]).filter((s) => s !== ''))];
}

/** RFC 6749 §3.3 scope-token: printable ASCII except space, `"` and `\`. */
const SCOPE_TOKEN = /^[\x21\x23-\x5b\x5d-\x7e]+$/;

/**
 * Normalises a scope option: a space-separated string or an array (whose entries may hold several
 * space-separated scopes) to unique scope tokens, checked against RFC 6749 §3.3.
 */
export function scopeList(option: string, value: unknown): readonly string[] {
  const scopes = [...new Set(stringList(option, value).flatMap((s) => s.split(' ').filter((t) => t !== '')))];
  if (!scopes.every((s) => SCOPE_TOKEN.test(s))) fail(option, 'scope tokens of printable ASCII, separated by single spaces');
  return scopes;
}

/** Validates user options, applies the defaults and returns a copy. Throws `TypeError` naming the option. */
export function resolveOptions(input: ClientCredentialsOptions): ResolvedOptions {
  if (typeof input !== 'object' || input === null) throw new TypeError('m2m-token: options must be an object');
  const allowInsecureHttp = input.allowInsecureHttp ?? defaults.allowInsecureHttp;
  if (typeof allowInsecureHttp !== 'boolean') fail('allowInsecureHttp', 'a boolean');

  const endpoint = (name: 'tokenEndpoint' | 'issuer' | 'revocationEndpoint') =>
    input[name] === undefined ? undefined : parseEndpoint(name, input[name], allowInsecureHttp);
  const tokenEndpoint = endpoint('tokenEndpoint');
  const issuerUrl = endpoint('issuer');
  const issuer = input.issuer === undefined ? undefined : String(input.issuer);
  const revocationEndpoint = endpoint('revocationEndpoint');
  if (!tokenEndpoint && !issuer) fail('tokenEndpoint', 'set (or `issuer`, for discovery)');
  if (issuerUrl && (issuerUrl.search || issuerUrl.hash)) fail('issuer', 'a URL without query or fragment');

  if (typeof input.clientId !== 'string' || input.clientId === '') fail('clientId', 'a non-empty string');
  if (input.clientSecret !== undefined && (typeof input.clientSecret !== 'string' || input.clientSecret === '')) {
    fail('clientSecret', 'a non-empty string');
  }
  const clientAuth =
    input.clientAuth ??
    (input.clientSecret !== undefined
      ? 'client_secret_basic'
      : input.privateKey !== undefined
        ? 'private_key_jwt'
        : input.tls !== undefined
          ? 'tls_client_auth'
          : 'none');
  if (!CLIENT_AUTH_METHODS.includes(clientAuth)) fail('clientAuth', `one of ${CLIENT_AUTH_METHODS.join(', ')}`);
  const needed = NEEDS[clientAuth];
  if (needed !== undefined && input[needed] === undefined) fail(needed, `set for clientAuth ${clientAuth}`);

  const assertion = input.clientAssertion ?? {};
  if (typeof assertion !== 'object' || assertion === null) fail('clientAssertion', 'an object');
  if (assertion.alg !== undefined && typeof assertion.alg !== 'string') fail('clientAssertion.alg', 'a string');
  if (assertion.kid !== undefined && typeof assertion.kid !== 'string') fail('clientAssertion.kid', 'a string');
  const assertionAudience = assertion.audience ?? 'issuer';
  if (assertionAudience !== 'issuer' && assertionAudience !== 'token_endpoint') fail('clientAssertion.audience', "'issuer' or 'token_endpoint'");
  const key = input.privateKey === undefined ? undefined : signingKey('privateKey', input.privateKey, assertion.alg, assertion.kid);

  if (input.tls !== undefined) {
    const { cert, key: tlsKey } = input.tls ?? {};
    const pem = (v: unknown) => typeof v === 'string' || Buffer.isBuffer(v);
    if (!pem(cert)) fail('tls.cert', 'a PEM certificate (string or Buffer)');
    if (!pem(tlsKey)) fail('tls.key', 'a PEM private key (string or Buffer)');
    if (input.fetch !== undefined) fail('fetch', 'unset when `tls` is set (the client presents the certificate with its own fetch)');
  }
  const dpop = input.dpop === undefined || input.dpop === false ? undefined : input.dpop;
  if (dpop !== undefined && dpop !== true && (typeof dpop !== 'object' || dpop === null)) fail('dpop', 'a boolean or { privateKey, alg }');

  if (input.audience !== undefined && (typeof input.audience !== 'string' || input.audience === '')) {
    fail('audience', 'a non-empty string');
  }
  const extraParams: Record<string, string> = {};
  if (input.extraParams !== undefined) {
    if (typeof input.extraParams !== 'object' || input.extraParams === null) fail('extraParams', 'an object of strings');
    for (const [k, v] of Object.entries(input.extraParams)) {
      if (typeof v !== 'string') fail(`extraParams.${k}`, 'a string');
      if (RESERVED_PARAMS.has(k)) fail(`extraParams.${k}`, 'set through its own option, not extraParams');
      extraParams[k] = v;
    }
  }
  if (input.fetch !== undefined && typeof input.fetch !== 'function') fail('fetch', 'a function');
  if (
    input.store !== undefined &&
    (typeof input.store !== 'object' || input.store === null || !['get', 'set', 'delete'].every((m) => typeof (input.store as unknown as Record<string, unknown>)[m] === 'function'))
  ) {
    fail('store', 'a TokenStore (an object with get, set and delete methods)');
  }
  if (input.logger !== undefined && (typeof input.logger !== 'object' || input.logger === null)) {
    fail('logger', 'an object with debug/info/warn/error methods');
  }

  let retry: Required<RetryOptions> = { ...defaults.retry, retries: 0 };
  if (input.retry !== false) {
    const r = input.retry === undefined ? {} : input.retry;
    if (typeof r !== 'object' || r === null) fail('retry', 'an object or false');
    retry = {
      retries: nonNegative('retry.retries', r.retries, defaults.retry.retries, { integer: true, max: 20 }),
      minDelay: nonNegative('retry.minDelay', r.minDelay, defaults.retry.minDelay, { max: MAX_TIMER }),
      maxDelay: nonNegative('retry.maxDelay', r.maxDelay, defaults.retry.maxDelay, { max: MAX_TIMER }),
    };
  }

  return {
    tokenEndpoint,
    issuer,
    issuerFromUrl: input.issuer instanceof URL,
    revocationEndpoint,
    clientId: input.clientId,
    clientSecret: input.clientSecret,
    clientAuth,
    signingKey: key,
    assertionAudience,
    assertionLifetime: positive('clientAssertion.lifetime', assertion.lifetime, 60_000, MAX_TIMER),
    tls: input.tls === undefined ? undefined : { ...input.tls },
    dpop,
    scope: scopeList('scope', input.scope),
    audience: input.audience,
    resource: stringList('resource', input.resource),
    extraParams,
    timeout: positive('timeout', input.timeout, defaults.timeout, MAX_TIMER),
    retry,
    fetch: input.fetch,
    allowInsecureHttp,
    expiryMargin: nonNegative('expiryMargin', input.expiryMargin, defaults.expiryMargin, { max: MAX_TIMER }),
    refreshRatio: nonNegative('refreshRatio', input.refreshRatio, defaults.refreshRatio, { max: 1 }),
    refreshJitter: nonNegative('refreshJitter', input.refreshJitter, defaults.refreshJitter, { max: 0.5 }),
    defaultLifetime: positive('defaultLifetime', input.defaultLifetime, defaults.defaultLifetime),
    maxCacheEntries: positive('maxCacheEntries', input.maxCacheEntries, defaults.maxCacheEntries),
    maxResponseBytes: positive('maxResponseBytes', input.maxResponseBytes, defaults.maxResponseBytes),
    invalidClientBackoff: nonNegative('invalidClientBackoff', input.invalidClientBackoff, defaults.invalidClientBackoff, { max: MAX_TIMER }),
    logger: input.logger,
    store: input.store,
  };
}
