/** A client registered with a {@link TestAuthorizationServer}. */
export interface TestClient {
  /** Its `client_id`. */
  readonly clientId: string;
  /** Its `client_secret`, accepted with `client_secret_basic` and `client_secret_post`. */
  readonly clientSecret: string;
  /** The scopes this client may request. @default the server's `scopes` */
  readonly scopes?: readonly string[] | undefined;
}

/** Options of {@link createTestAuthorizationServer}. */
export interface TestAuthorizationServerOptions {
  /**
   * The registered clients. A token, revocation or introspection request with another id or a wrong
   * secret gets `401 invalid_client`.
   * @default [{ clientId: 'test-client', clientSecret: 'test-secret' }]
   */
  readonly clients?: readonly TestClient[] | undefined;
  /**
   * The scopes clients may request; a request for any other is `400 invalid_scope`.
   * @default any scope
   */
  readonly scopes?: readonly string[] | undefined;
  /**
   * Lifetime of the tokens issued, in seconds (`expires_in`). Can be changed later with
   * `server.expiresIn = …`.
   * @default 3600
   */
  readonly expiresIn?: number | undefined;
}

/** An answer to inject in place of the normal one (see {@link TestAuthorizationServer.failNext}). */
export interface InjectedFailure {
  /** The endpoint whose next request gets this answer. @default 'token' */
  readonly endpoint?: 'token' | 'revocation' | 'introspection' | 'metadata' | undefined;
  /**
   * HTTP status of the answer: a JSON body `{ "error": … }` with `error`. Without a status (and
   * without `reset`) the normal answer is sent, after `delay`.
   */
  readonly status?: number | undefined;
  /** The OAuth `error` code of the body. @default 'temporarily_unavailable' for 5xx, 'invalid_request' otherwise */
  readonly error?: string | undefined;
  /** A `Retry-After` header: seconds, or an HTTP date. */
  readonly retryAfter?: number | string | undefined;
  /** Milliseconds to wait before answering (or before resetting the connection). @default 0 */
  readonly delay?: number | undefined;
  /** Destroy the connection instead of answering: the client sees a network error. */
  readonly reset?: boolean | undefined;
}

/** A token's information when it is active. */
export interface ActiveTokenInfo {
  /** The token was issued by the server and is neither expired nor revoked. */
  readonly active: true;
  /** The client the token was issued to. */
  readonly clientId: string;
  /** The scopes granted. */
  readonly scope: readonly string[];
  /** When the token expires, epoch milliseconds. */
  readonly expiresAt: number;
}

/** What the server knows of a token (RFC 7662 introspection, in camelCase). */
export type TokenInfo =
  | ActiveTokenInfo
  | {
      /** The token is unknown, expired or revoked. */
      readonly active: false;
    };

/**
 * The outcome of {@link checkToken}: the token's information, or the status and `WWW-Authenticate`
 * challenge (RFC 6750 §3) a resource server answers with.
 */
export type TokenCheck =
  | {
      /** The request may proceed. */
      readonly ok: true;
      /** What the server knows of the token. */
      readonly token: ActiveTokenInfo;
    }
  | {
      /** The request must be refused. */
      readonly ok: false;
      /** 401 for a missing, unknown, expired or revoked token; 403 for a missing scope. */
      readonly status: 401 | 403;
      /** `invalid_token`, `insufficient_scope`, or undefined when no token was sent. */
      readonly error: 'invalid_token' | 'insufficient_scope' | undefined;
      /** The `WWW-Authenticate` header to answer with. */
      readonly wwwAuthenticate: string;
    };

/** Requests the server received, per endpoint (answered or not, failures injected included). */
export interface RequestCounts {
  /** `POST /token`. */
  readonly token: number;
  /** `POST /revoke`. */
  readonly revocation: number;
  /** `POST /introspect`. */
  readonly introspection: number;
  /** `GET /.well-known/oauth-authorization-server`. */
  readonly metadata: number;
}

/**
 * A real OAuth 2.0 authorization server on 127.0.0.1 for tests: client credentials grant, revocation,
 * introspection and metadata, with counters and failure injection. Made by
 * {@link createTestAuthorizationServer}; close it after the tests.
 */
export interface TestAuthorizationServer {
  /** The issuer (`http://127.0.0.1:<port>`), for a client's `issuer` option (RFC 8414 discovery). */
  readonly issuer: string;
  /** The token endpoint URL, for a client's `tokenEndpoint` option. */
  readonly tokenEndpoint: string;
  /** The revocation endpoint URL (RFC 7009). */
  readonly revocationEndpoint: string;
  /** The introspection endpoint URL (RFC 7662). */
  readonly introspectionEndpoint: string;
  /** Lifetime of the tokens issued from now on, in seconds. */
  expiresIn: number;
  /** Token requests received so far (same as `requests.token`). */
  readonly tokenRequests: number;
  /** Requests received so far, per endpoint. */
  readonly requests: RequestCounts;
  /** Tokens issued so far that are still active (not expired, not revoked). */
  readonly activeTokens: number;
  /**
   * Answers the next requests with these failures, in order, one per request to their `endpoint`;
   * later requests are answered normally.
   */
  failNext(...failures: readonly InjectedFailure[]): void;
  /** What the server knows of `token`: active (with client and scope) or not. */
  verify(token: string): TokenInfo;
  /** Revokes `token` on the server side, as an operator would: it is no longer active. */
  revoke(token: string): void;
  /** Forgets the counters, the injected failures and the tokens (all inactive afterwards). */
  reset(): void;
  /** Stops the server, dropping open connections. */
  close(): Promise<void>;
  /** `await using server = await createTestAuthorizationServer()` closes it at the end of the scope. */
  [Symbol.asyncDispose](): Promise<void>;
}
