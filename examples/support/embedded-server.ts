/**
 * An OAuth 2.0 authorization server and a protected API that run inside the current Node process, on
 * 127.0.0.1, for the demo, the runnable examples and the integration tests.
 *
 * The authorization server is [oidc-provider](https://github.com/panva/node-oidc-provider) 9 configured for
 * machine-to-machine use: the client credentials grant, token revocation (RFC 7009), token introspection
 * (RFC 7662) and resource indicators (RFC 8707). Tokens requested without `resource` are opaque (and can
 * be introspected and revoked); tokens for {@link API_RESOURCE} are signed JWTs (RFC 9068) for that audience.
 * DPoP (RFC 9449) is on as oidc-provider ships it (server nonces with `dpopNonce: true`); mutual TLS
 * (RFC 8705) is added on an https listener with `mtls`. Clients with `private_key_jwt`, `client_secret_jwt`
 * or certificates are registered through `clients`.
 *
 * Everything is in memory and goes away with {@link AuthorizationServer.close}; nothing is left running.
 * Development use only: the client secrets below are public.
 *
 * @example
 * ```ts
 * const authServer = await startAuthorizationServer();
 * const api = await startResourceServer({
 *   introspectionEndpoint: authServer.introspectionEndpoint,
 *   ...demoClients.resourceServer,
 * });
 * const client = new ClientCredentialsClient({ issuer: authServer.issuer, ...demoClients.basic, scope: 'orders:read' });
 * const res = await client.fetch(`${api.url}/orders`); // 200, validated by introspection
 * await client.close({ revoke: true });
 * await api.close();
 * await authServer.close();
 * ```
 * @module
 */
import { randomBytes, X509Certificate } from 'node:crypto';
import { once } from 'node:events';
import { createServer, type IncomingMessage, type RequestListener, type Server, type ServerResponse } from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import type { TLSSocket } from 'node:tls';
import type { AddressInfo } from 'node:net';
import { exportJWK, generateKeyPair } from 'jose';
import type { Adapter, AdapterPayload, ClientMetadata, Configuration, Provider, ResourceServer as ResourceServerInfo } from 'oidc-provider';

export type { ClientMetadata, Provider } from 'oidc-provider';

/** The resource indicator (RFC 8707) of the demo API. Tokens requested for it are JWTs with this `aud`. */
export const API_RESOURCE = 'https://api.example.com';

/** The scopes the demo API knows. Every demo client may request them. */
export const API_SCOPES = ['orders:read', 'orders:write'] as const;

/**
 * A scope the authorization server knows but no demo client is allowed: requesting it is answered with
 * `invalid_scope`. (oidc-provider silently drops scopes it does not know at all.)
 */
export const RESTRICTED_SCOPE = 'orders:admin';

/** Credentials of a registered client, in the shape of `ClientCredentialsClient` options. */
export interface DemoClient {
  readonly clientId: string;
  readonly clientSecret: string;
  readonly clientAuth: 'client_secret_basic' | 'client_secret_post';
}

/**
 * The clients every embedded authorization server registers. Their secrets are public: local use only.
 *
 * - `basic`: authenticates with HTTP Basic (`client_secret_basic`).
 * - `post`: authenticates with the secret in the form body (`client_secret_post`).
 * - `special`: its secret holds every character RFC 6749 §2.3.1 makes clients encode (`:`, `@`, `+`, `%`,
 *   space, `&`, `=`, `/`, `"`). Non-ASCII is not possible: RFC 6749 Appendix A.2 limits secrets to
 *   printable ASCII and oidc-provider enforces it.
 * - `resourceServer`: the demo API's own client; it gets no tokens but may introspect any token.
 */
export const demoClients = {
  basic: { clientId: 'orders-service', clientSecret: 'orders-service-demo-secret', clientAuth: 'client_secret_basic' },
  post: { clientId: 'billing-service', clientSecret: 'billing-service-demo-secret', clientAuth: 'client_secret_post' },
  special: { clientId: 'legacy-service', clientSecret: 'p:ss@w+rd% 100% "sure"/&=?~', clientAuth: 'client_secret_basic' },
  resourceServer: { clientId: 'orders-api', clientSecret: 'orders-api-demo-secret', clientAuth: 'client_secret_basic' },
} as const satisfies Record<string, DemoClient>;

/** Options of {@link startAuthorizationServer}. */
export interface AuthorizationServerOptions {
  /**
   * Lifetime of issued access tokens, in seconds.
   * @default 300
   */
  accessTokenTtl?: number;
  /**
   * Further clients to register, in addition to {@link demoClients}. A client may ask for any of
   * {@link API_SCOPES} unless its metadata has a narrower `scope`.
   */
  clients?: readonly ClientMetadata[];
  /**
   * Client ids allowed to introspect tokens of other clients (a client may always introspect its own).
   * @default [demoClients.resourceServer.clientId]
   */
  introspectors?: readonly string[];
  /**
   * Port to listen on, on 127.0.0.1.
   * @default 0 (any free port)
   */
  port?: number;
  /**
   * DPoP (RFC 9449) server nonces: every DPoP proof must carry a current server nonce, or the request is
   * answered with `use_dpop_nonce` and a `DPoP-Nonce` header (RFC 9449 §8). DPoP itself is always on
   * (oidc-provider's default): a token request with a `DPoP` proof gets a `DPoP`-bound token either way.
   * @default false
   */
  dpopNonce?: boolean;
  /**
   * Mutual TLS (RFC 8705): a second, `https:` listener on 127.0.0.1 that serves the same provider, asks
   * every client for a certificate, and is published as the discovery document's
   * `mtls_endpoint_aliases`. Enables `tls_client_auth` (certificates issued by `ca`, matched by
   * `tls_client_auth_subject_dn` or `tls_client_auth_san_dns`), `self_signed_tls_client_auth`
   * (certificates in the client's `jwks`, by `x5t#S256`) and certificate-bound access tokens
   * (`tls_client_certificate_bound_access_tokens`). The plain listener never sees a certificate.
   * @default none
   */
  mtls?: MutualTlsOptions;
  /**
   * Further resource indicators (RFC 8707) the server issues tokens for, each with the scopes it knows
   * (added to the server's known scopes): tokens for them are RS256 JWTs with `aud` = the indicator,
   * like those of {@link API_RESOURCE}.
   * @default none
   */
  resources?: Readonly<Record<string, readonly string[]>>;
}

/** The TLS material of the mutual-TLS listener, PEM. */
export interface MutualTlsOptions {
  /** The listener's certificate (for 127.0.0.1). */
  readonly cert: string | Buffer;
  /** Its private key. */
  readonly key: string | Buffer;
  /** The certificate authorities whose client certificates are `certificateAuthorized` (tls_client_auth). */
  readonly ca: string | Buffer | readonly (string | Buffer)[];
}

/** The mutual-TLS endpoint aliases (RFC 8705 §5) of a server started with `mtls`. */
export interface MutualTlsEndpoints {
  /** `https://127.0.0.1:<port>` */
  readonly origin: string;
  readonly tokenEndpoint: string;
  readonly revocationEndpoint: string;
  readonly introspectionEndpoint: string;
}

/** An introspection response (RFC 7662 §2.2); only `active` is always present. */
export interface IntrospectionResponse {
  readonly active: boolean;
  readonly client_id?: string;
  readonly scope?: string;
  readonly exp?: number;
  readonly iat?: number;
  readonly iss?: string;
  readonly aud?: string | string[];
  readonly token_type?: string;
  readonly [member: string]: unknown;
}

/** A running embedded authorization server. Endpoints are absolute `http://127.0.0.1:<port>/…` URLs. */
export interface AuthorizationServer {
  /** The issuer identifier, `http://127.0.0.1:<port>`; its metadata is at `/.well-known/openid-configuration`. */
  readonly issuer: string;
  readonly tokenEndpoint: string;
  readonly revocationEndpoint: string;
  readonly introspectionEndpoint: string;
  readonly jwksUri: string;
  /** The mutual-TLS endpoint aliases, when started with `mtls`. */
  readonly mtls: MutualTlsEndpoints | undefined;
  /** The oidc-provider instance, for listening to its events or reaching its models. */
  readonly provider: Provider;
  /** How many access tokens the client credentials grant has issued since start (opaque and JWT alike). */
  issued(): number;
  /**
   * Introspects `token` at the introspection endpoint over HTTP, as `as` (by default the demo resource
   * server client).
   */
  introspect(token: string, as?: Pick<DemoClient, 'clientId' | 'clientSecret'>): Promise<IntrospectionResponse>;
  /**
   * Revokes an opaque client credentials token server-side, behind its client's back (as an administrator
   * would). Rejects when the server holds no such token (JWT access tokens are not stored and cannot be revoked).
   */
  revoke(token: string): Promise<void>;
  /** Stops listening and drops every connection. Idempotent. */
  close(): Promise<void>;
}

/** RFC 6749 §2.3.1: id and secret are form-encoded before being joined for HTTP Basic. */
function basicAuthorization(clientId: string, clientSecret: string): string {
  const encode = (value: string) => new URLSearchParams([['', value]]).toString().slice(1);
  return `Basic ${Buffer.from(`${encode(clientId)}:${encode(clientSecret)}`).toString('base64')}`;
}

/** A per-server in-memory adapter: no timers, expired entries are dropped when read. */
function createMemoryAdapter(): new (name: string) => Adapter {
  const store = new Map<string, { payload: AdapterPayload; expiresAt: number }>();
  const grants = new Map<string, Set<string>>();
  const read = (key: string): AdapterPayload | undefined => {
    const entry = store.get(key);
    if (entry === undefined) return undefined;
    if (Date.now() >= entry.expiresAt) {
      store.delete(key);
      return undefined;
    }
    return entry.payload;
  };

  return class MemoryAdapter implements Adapter {
    readonly #name: string;

    constructor(name: string) {
      this.#name = name;
    }

    #key(id: string): string {
      return `${this.#name}:${id}`;
    }

    async upsert(id: string, payload: AdapterPayload, expiresIn: number): Promise<void> {
      const key = this.#key(id);
      const expiresAt = typeof expiresIn === 'number' ? Date.now() + expiresIn * 1000 : Infinity;
      store.set(key, { payload: structuredClone(payload), expiresAt });
      if (payload.grantId !== undefined) {
        const members = grants.get(payload.grantId) ?? new Set<string>();
        members.add(key);
        grants.set(payload.grantId, members);
      }
      if (payload.userCode !== undefined) store.set(`userCode:${payload.userCode}`, { payload: { id }, expiresAt });
      if (payload.uid !== undefined) store.set(`uid:${payload.uid}`, { payload: { id }, expiresAt });
    }

    async find(id: string): Promise<AdapterPayload | undefined> {
      const payload = read(this.#key(id));
      return payload === undefined ? undefined : structuredClone(payload);
    }

    async findByUserCode(userCode: string): Promise<AdapterPayload | undefined> {
      const ref = read(`userCode:${userCode}`);
      return typeof ref?.id === 'string' ? this.find(ref.id) : undefined;
    }

    async findByUid(uid: string): Promise<AdapterPayload | undefined> {
      const ref = read(`uid:${uid}`);
      return typeof ref?.id === 'string' ? this.find(ref.id) : undefined;
    }

    async consume(id: string): Promise<void> {
      const payload = read(this.#key(id));
      if (payload !== undefined) payload.consumed = Math.floor(Date.now() / 1000);
    }

    async destroy(id: string): Promise<void> {
      store.delete(this.#key(id));
    }

    async revokeByGrantId(grantId: string): Promise<void> {
      for (const key of grants.get(grantId) ?? []) store.delete(key);
      grants.delete(grantId);
    }
  };
}

async function listen(server: Server, port: number): Promise<number> {
  server.listen(port, '127.0.0.1');
  await once(server, 'listening');
  return (server.address() as AddressInfo).port;
}

function closeServer(server: Server): Promise<void> {
  if (!server.listening) return Promise.resolve();
  return new Promise((resolve, reject) => {
    server.close((error) => (error ? reject(error) : resolve()));
    server.closeAllConnections();
  });
}

/** The client certificate presented on the request's TLS connection, if any (never on the plain listener). */
function peerCertificate(req: IncomingMessage): X509Certificate | undefined {
  const socket = req.socket as Partial<TLSSocket>;
  if (typeof socket.getPeerCertificate !== 'function') return undefined;
  const peer = socket.getPeerCertificate();
  return peer?.raw === undefined ? undefined : new X509Certificate(peer.raw);
}

/** A DN as a set of `TYPE=value` attributes: `CN=a,O=b` matches a certificate subject in either order. */
function dnAttributes(dn: string): string {
  return dn
    .split(/[,\n]/)
    .map((part) => part.trim())
    .filter((part) => part !== '')
    .sort()
    .join('\n');
}

let providerModule: Promise<typeof import('oidc-provider')> | undefined;

/**
 * Imports oidc-provider once. On Node.js 20 its import prints "Unsupported runtime" (it asks for 22+;
 * the features used here work on 20.20); that one line is filtered out, any other output passes through.
 */
function loadProvider(): Promise<typeof import('oidc-provider')> {
  providerModule ??= (async () => {
    const warn = console.warn;
    console.warn = (...args: unknown[]) => {
      if (typeof args[0] === 'string' && args[0].includes('oidc-provider WARNING: Unsupported runtime')) return;
      warn.apply(console, args);
    };
    try {
      return await import('oidc-provider');
    } finally {
      console.warn = warn;
    }
  })();
  return providerModule;
}

/**
 * Starts an oidc-provider authorization server on `http://127.0.0.1:<port>` with the client credentials
 * grant, revocation, introspection and resource indicators enabled, and {@link demoClients} registered.
 *
 * - Without `resource`, tokens are opaque; scopes are those of {@link API_SCOPES} the client asked for.
 * - With `resource` = {@link API_RESOURCE}, tokens are RS256 JWTs (`typ: at+jwt`) with `aud` = that
 *   resource, `iss`, `client_id` and `scope`, verifiable with the keys at `jwksUri`. Other resources are
 *   refused with `invalid_target`.
 * - A scope the server knows but the client may not have ({@link RESTRICTED_SCOPE}) is refused with
 *   `invalid_scope`; scopes the server does not know are dropped from the grant.
 *
 * Signing keys and cookie keys are generated at start, so oidc-provider prints no development warnings.
 */
export async function startAuthorizationServer(options: AuthorizationServerOptions = {}): Promise<AuthorizationServer> {
  const {
    accessTokenTtl = 300,
    clients = [],
    introspectors = [demoClients.resourceServer.clientId],
    port = 0,
    dpopNonce = false,
    mtls,
    resources = {},
  } = options;
  if (!Number.isSafeInteger(accessTokenTtl) || accessTokenTtl <= 0) {
    throw new TypeError('accessTokenTtl must be a positive integer (seconds)');
  }
  const { default: Provider, errors } = await loadProvider();

  const { privateKey } = await generateKeyPair('RS256', { extractable: true });
  const signingKey = { ...(await exportJWK(privateKey)), kid: `rs256-${randomBytes(6).toString('hex')}`, alg: 'RS256', use: 'sig' };

  // Requests that arrive before the provider exists (there are none in practice) get a 503.
  let handler: RequestListener = (_req, res) => {
    res.statusCode = 503;
    res.end();
  };
  const server = createServer((req, res) => handler(req, res));
  const actualPort = await listen(server, port);
  const issuer = `http://127.0.0.1:${actualPort}`;

  // Mutual TLS: a second listener that asks for (but does not insist on) a client certificate, so that
  // oidc-provider itself reports a missing or unverified one. Same provider, same handler.
  let mtlsServer: Server | undefined;
  let mtlsEndpoints: MutualTlsEndpoints | undefined;
  if (mtls !== undefined) {
    mtlsServer = createHttpsServer(
      { cert: mtls.cert, key: mtls.key, ca: mtls.ca as string[], requestCert: true, rejectUnauthorized: false },
      (req, res) => handler(req, res),
    );
    try {
      const origin = `https://127.0.0.1:${await listen(mtlsServer, 0)}`;
      mtlsEndpoints = {
        origin,
        tokenEndpoint: `${origin}/token`,
        revocationEndpoint: `${origin}/token/revocation`,
        introspectionEndpoint: `${origin}/token/introspection`,
      };
    } catch (error) {
      await closeServer(server);
      throw error;
    }
  }

  const apiScope = API_SCOPES.join(' ');
  const registered = (client: DemoClient): ClientMetadata => ({
    client_id: client.clientId,
    client_secret: client.clientSecret,
    token_endpoint_auth_method: client.clientAuth,
    grant_types: ['client_credentials'],
    response_types: [],
    scope: apiScope,
  });
  const mayIntrospect = new Set(introspectors);

  const configuration: Configuration = {
    adapter: createMemoryAdapter(),
    jwks: { keys: [signingKey] },
    cookies: { keys: [randomBytes(32).toString('base64url')] },
    // Known scopes: opaque tokens carry only these (other scopes are dropped), and a known scope a client
    // is not registered for is an invalid_scope.
    scopes: [...new Set([...API_SCOPES, RESTRICTED_SCOPE, ...Object.values(resources).flat()])],
    clients: [
      registered(demoClients.basic),
      registered(demoClients.post),
      registered(demoClients.special),
      { ...registered(demoClients.resourceServer), grant_types: [] },
      ...clients.map((client) => ({ grant_types: ['client_credentials'], response_types: [], scope: apiScope, ...client })),
    ],
    clientBasedCORS: () => false,
    ttl: { ClientCredentials: accessTokenTtl },
    features: {
      devInteractions: { enabled: false },
      clientCredentials: { enabled: true },
      revocation: {
        enabled: true,
        // RFC 7009 §2.1: a client may only revoke its own tokens; another client's request is refused.
        allowedPolicy: (_ctx, client, token) => {
          if (token.clientId !== client.clientId) throw new errors.InvalidRequest('client is not authorized to revoke the presented token');
          return true;
        },
      },
      introspection: {
        enabled: true,
        allowedPolicy: (_ctx, client, token) => token.clientId === client.clientId || mayIntrospect.has(client.clientId),
      },
      resourceIndicators: {
        enabled: true,
        // No resource requested: no resource server, hence an opaque token.
        defaultResource: () => undefined,
        useGrantedResource: () => false,
        getResourceServerInfo: (_ctx, resourceIndicator): ResourceServerInfo => {
          const other = Object.hasOwn(resources, resourceIndicator) ? resources[resourceIndicator] : undefined;
          if (other !== undefined)
            return { scope: other.join(' '), audience: resourceIndicator, accessTokenFormat: 'jwt', accessTokenTTL: accessTokenTtl };
          if (resourceIndicator !== API_RESOURCE) throw new errors.InvalidTarget(`unknown resource ${resourceIndicator}`);
          return { scope: apiScope, audience: API_RESOURCE, accessTokenFormat: 'jwt', accessTokenTTL: accessTokenTtl };
        },
      },
    },
  };

  if (dpopNonce) {
    configuration.features!.dPoP = { enabled: true, nonceSecret: randomBytes(32), requireNonce: () => true };
  }
  if (mtlsEndpoints !== undefined) {
    const authorized = (ctx: { req: IncomingMessage }) => (ctx.req.socket as Partial<TLSSocket>).authorized === true;
    configuration.features!.mTLS = {
      enabled: true,
      certificateBoundAccessTokens: true,
      tlsClientAuth: true,
      selfSignedTlsClientAuth: true,
      getCertificate: (ctx) => peerCertificate(ctx.req)?.toString(),
      certificateAuthorized: (ctx) => authorized(ctx),
      certificateSubjectMatches: (ctx, property, expected) => {
        const certificate = peerCertificate(ctx.req);
        if (certificate === undefined) return false;
        switch (property) {
          case 'tls_client_auth_subject_dn':
            return dnAttributes(certificate.subject) === dnAttributes(expected);
          case 'tls_client_auth_san_dns':
            return (certificate.subjectAltName ?? '').split(', ').includes(`DNS:${expected}`);
          default:
            return false;
        }
      },
    };
    configuration.clientAuthMethods = [
      'client_secret_basic',
      'client_secret_jwt',
      'client_secret_post',
      'private_key_jwt',
      'none',
      'tls_client_auth',
      'self_signed_tls_client_auth',
    ];
    // RFC 8705 §5: clients with a certificate use these instead of the plain endpoints.
    configuration.discovery = {
      mtls_endpoint_aliases: {
        token_endpoint: mtlsEndpoints.tokenEndpoint,
        revocation_endpoint: mtlsEndpoints.revocationEndpoint,
        introspection_endpoint: mtlsEndpoints.introspectionEndpoint,
      },
    };
  }

  const closeListeners = async () => {
    await Promise.all([closeServer(server), mtlsServer === undefined ? undefined : closeServer(mtlsServer)]);
  };

  let provider: Provider;
  try {
    provider = new Provider(issuer, configuration);
  } catch (error) {
    await closeListeners();
    throw error;
  }
  handler = provider.callback();

  let issued = 0;
  const count = () => {
    issued++;
  };
  // Opaque tokens are stored ('saved'); JWT access tokens are not ('issued').
  provider.on('client_credentials.saved', count);
  provider.on('client_credentials.issued', count);

  const introspectionEndpoint = `${issuer}/token/introspection`;
  let closing: Promise<void> | undefined;

  return {
    issuer,
    tokenEndpoint: `${issuer}/token`,
    revocationEndpoint: `${issuer}/token/revocation`,
    introspectionEndpoint,
    jwksUri: `${issuer}/jwks`,
    mtls: mtlsEndpoints,
    provider,
    issued: () => issued,
    async introspect(token, as = demoClients.resourceServer) {
      return introspect(introspectionEndpoint, as, token);
    },
    async revoke(token) {
      const found = await provider.ClientCredentials.find(token);
      if (found === undefined) throw new Error('the authorization server holds no such client credentials token');
      await found.destroy();
    },
    close() {
      closing ??= (async () => {
        provider.off('client_credentials.saved', count);
        provider.off('client_credentials.issued', count);
        await closeListeners();
      })();
      return closing;
    },
  };
}

async function introspect(
  endpoint: string,
  as: Pick<DemoClient, 'clientId' | 'clientSecret'>,
  token: string,
): Promise<IntrospectionResponse> {
  const response = await fetch(endpoint, {
    method: 'POST',
    headers: {
      authorization: basicAuthorization(as.clientId, as.clientSecret),
      'content-type': 'application/x-www-form-urlencoded',
      accept: 'application/json',
    },
    body: new URLSearchParams({ token, token_type_hint: 'access_token' }).toString(),
  });
  const body = (await response.json()) as unknown;
  if (!response.ok || typeof body !== 'object' || body === null || typeof (body as { active?: unknown }).active !== 'boolean') {
    throw new Error(`introspection failed with HTTP ${response.status}: ${JSON.stringify(body)}`);
  }
  return body as IntrospectionResponse;
}

/** Options of {@link startResourceServer}. */
export interface ResourceServerOptions {
  /** The authorization server's introspection endpoint (RFC 7662). */
  introspectionEndpoint: string;
  /** The resource server's own client id at the authorization server. */
  clientId: string;
  /** The resource server's own client secret. */
  clientSecret: string;
  /**
   * Port to listen on, on 127.0.0.1.
   * @default 0 (any free port)
   */
  port?: number;
}

/** A running protected API. */
export interface ResourceServer {
  /** `http://127.0.0.1:<port>`; every path is protected. */
  readonly url: string;
  /** How many requests it has received, authorized or not. */
  requests(): number;
  /** Stops listening and drops every connection. Idempotent. */
  close(): Promise<void>;
}

function sendJson(res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): void {
  const text = JSON.stringify(body);
  res.writeHead(status, {
    ...headers,
    'content-type': 'application/json',
    'cache-control': 'no-store',
    'content-length': Buffer.byteLength(text),
  });
  res.end(text);
}

/**
 * Starts a small protected API on `http://127.0.0.1:<port>` that checks every request's Bearer token by
 * introspecting it at the authorization server (RFC 7662), as the client `clientId`.
 *
 * - No Bearer token: 401 with `WWW-Authenticate: Bearer realm="orders-api"` (RFC 6750 §3.1).
 * - Inactive token (unknown, expired, revoked): 401 with `WWW-Authenticate: Bearer error="invalid_token"`.
 * - Active token: 200 with JSON `{ path, method, client_id, scope }`.
 * - Introspection failed: 502.
 */
export async function startResourceServer(options: ResourceServerOptions): Promise<ResourceServer> {
  const { introspectionEndpoint, clientId, clientSecret, port = 0 } = options;
  let requests = 0;

  const handle = async (req: IncomingMessage, res: ServerResponse): Promise<void> => {
    requests++;
    // Drain any request body; the answer does not depend on it.
    req.resume();
    const match = /^Bearer +([\x21-\x7e]+)$/i.exec(req.headers.authorization ?? '');
    if (match === null) {
      sendJson(res, 401, { error: 'unauthorized' }, { 'www-authenticate': 'Bearer realm="orders-api"' });
      return;
    }
    let result: IntrospectionResponse;
    try {
      result = await introspect(introspectionEndpoint, { clientId, clientSecret }, match[1]!);
    } catch {
      sendJson(res, 502, { error: 'introspection_failed' });
      return;
    }
    if (!result.active) {
      sendJson(
        res,
        401,
        { error: 'invalid_token' },
        {
          'www-authenticate': 'Bearer realm="orders-api", error="invalid_token", error_description="the access token is not active"',
        },
      );
      return;
    }
    sendJson(res, 200, { path: req.url, method: req.method, client_id: result.client_id, scope: result.scope });
  };

  const server = createServer((req, res) => {
    handle(req, res).catch(() => {
      if (!res.headersSent) sendJson(res, 500, { error: 'server_error' });
      else res.destroy();
    });
  });
  const actualPort = await listen(server, port);
  let closing: Promise<void> | undefined;
  return {
    url: `http://127.0.0.1:${actualPort}`,
    requests: () => requests,
    close() {
      closing ??= closeServer(server);
      return closing;
    },
  };
}
