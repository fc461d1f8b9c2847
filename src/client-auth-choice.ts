import type { EndpointResolver } from './endpoints.js';
import type { ResolvedOptions } from './options.js';
import { type BasicEncoding, basicEncodingMatters, type ClientAuth, type ClientAuthMethod } from './protocol/client-auth.js';
import { isInvalidClient } from './protocol/token-request.js';

/** The `basicEncoding` option: a fixed encoding of the Basic credential, or `'auto'` (learn it). */
export type BasicEncodingOption = BasicEncoding | 'auto';

/** Validates the `basicEncoding` option (default `'auto'`). Throws a `TypeError` naming it. */
export function resolveBasicEncoding(value: unknown): BasicEncodingOption {
  if (value === undefined) return 'auto';
  if (value !== 'form' && value !== 'raw' && value !== 'auto') {
    throw new TypeError("m2m-token: option `basicEncoding` must be 'form', 'raw' or 'auto'");
  }
  return value;
}

/** The methods a client's credentials allow, in the order the client prefers them (its default first). */
function usableMethods(options: ResolvedOptions): ClientAuthMethod[] {
  return [
    ...(options.clientSecret === undefined ? [] : (['client_secret_basic', 'client_secret_post', 'client_secret_jwt'] as const)),
    ...(options.signingKey === undefined ? [] : (['private_key_jwt'] as const)),
    ...(options.tls === undefined ? [] : (['tls_client_auth', 'self_signed_tls_client_auth'] as const)),
  ];
}

/**
 * The method used when `clientAuth` is not set and the server's metadata lists
 * `token_endpoint_auth_methods_supported`: the default method if listed (or if the list is missing or
 * empty: RFC 8414 §2 then means `client_secret_basic`), else the first listed one the credentials allow
 * (client_secret_basic, client_secret_post, client_secret_jwt, private_key_jwt, tls_client_auth,
 * self_signed_tls_client_auth), else the default (the server will say what it refuses).
 */
export function methodForMetadata(options: ResolvedOptions, supported: readonly string[] | undefined): ClientAuthMethod {
  // The default method is the first usable one, so it wins whenever it is listed.
  return usableMethods(options).find((method) => supported?.includes(method)) ?? options.clientAuth;
}

/**
 * The client authentication of one client, decided as late as needed and remembered:
 *
 * - the method: `clientAuth` when set; otherwise, with endpoints from discovery, one the metadata lists
 *   (see {@link methodForMetadata}), chosen at the first request, once the metadata is known;
 * - the Basic encoding with `basicEncoding: 'auto'`: RFC 6749 §2.3.1's form-encoding first; when that
 *   changed the credentials and the token endpoint refused them (`invalid_client`, or a bare 401 /
 *   403), one more request with them raw. Whichever encoding the server accepted is kept for the
 *   client's later token and revocation requests (golang.org/x/oauth2 learns its auth style alike).
 *   When the raw request fails too, the form-encoded request's error is thrown and nothing is
 *   learned: the next request (after the `invalid_client` backoff) tries both again.
 */
export class ClientAuthChoice {
  readonly #options: ResolvedOptions;
  readonly #method: () => ClientAuthMethod | Promise<ClientAuthMethod>;
  readonly #auths = new Map<string, ClientAuth>();
  #learned: BasicEncoding | undefined;

  readonly #authFor: (method: ClientAuthMethod, encoding: BasicEncoding) => ClientAuth;
  readonly #currentSecret: () => string | undefined;

  /** `credentials` builds each method's authentication and tells the secret last sent (a provider's may change). */
  constructor(
    options: ResolvedOptions,
    endpoints: EndpointResolver,
    signal: AbortSignal,
    credentials: { authFor(method: ClientAuthMethod, encoding: BasicEncoding): ClientAuth; currentSecret(): string | undefined },
  ) {
    this.#options = options;
    this.#authFor = credentials.authFor;
    this.#currentSecret = credentials.currentSecret;
    const discovered = options.clientAuthDefaulted && options.issuer !== undefined && options.tokenEndpoint === undefined;
    this.#method = discovered
      ? async () => methodForMetadata(options, (await endpoints.discovered(signal)).metadata.token_endpoint_auth_methods_supported)
      : () => options.clientAuth;
    if (options.basicEncoding !== 'auto') this.#learned = options.basicEncoding;
  }

  /** Authenticates a request with the chosen method and the Basic encoding known to work (else form). */
  readonly authenticate: ClientAuth = (body, headers, audience) => this.#with(this.#learned ?? 'form')(body, headers, audience);

  /**
   * Runs one token request (`run`, given the authentication to use), with the raw-Basic fallback of
   * `'auto'`: when the form-encoded credentials are refused, once more with raw ones.
   */
  async tokenRequest<T>(run: (authenticate: ClientAuth) => Promise<T>): Promise<T> {
    const encoding = this.#learned ?? 'form';
    const used = { method: undefined as ClientAuthMethod | undefined };
    let result: T;
    try {
      result = await run(this.#with(encoding, used));
    } catch (error) {
      if (this.#learned !== undefined || used.method !== 'client_secret_basic' || !isInvalidClient(error)) throw error;
      if (!basicEncodingMatters(this.#options.clientId, this.#currentSecret())) throw error;
      try {
        result = await run(this.#with('raw'));
      } catch {
        // The standard encoding's answer is the one to report (a server may reject a raw `%` otherwise).
        throw error;
      }
      this.#learned = 'raw';
      return result;
    }
    if (used.method === 'client_secret_basic') this.#learned ??= encoding;
    return result;
  }

  /** The client authentication with `encoding` for Basic; records the method it used in `used`. */
  #with(encoding: BasicEncoding, used?: { method: ClientAuthMethod | undefined }): ClientAuth {
    return async (body, headers, audience) => {
      const method = await this.#method();
      if (used) used.method = method;
      const key = `${method} ${encoding}`;
      let auth = this.#auths.get(key);
      if (auth === undefined) {
        auth = this.#authFor(method, encoding);
        this.#auths.set(key, auth);
      }
      return auth(body, headers, audience);
    };
  }
}
