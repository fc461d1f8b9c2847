import { once } from 'node:events';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { TokenRegistry } from './tokens.js';
import type { InjectedFailure, RequestCounts, TestAuthorizationServer, TestAuthorizationServerOptions, TestClient } from './types.js';
import { authenticateClient, readForm, sendInvalidClient, sendJson } from './wire.js';

type Endpoint = keyof RequestCounts;
const PATHS: Readonly<Record<string, Endpoint>> = {
  '/token': 'token',
  '/revoke': 'revocation',
  '/introspect': 'introspection',
  '/.well-known/oauth-authorization-server': 'metadata',
};
const DEFAULT_CLIENTS: readonly TestClient[] = [{ clientId: 'test-client', clientSecret: 'test-secret' }];

function validated(options: TestAuthorizationServerOptions): {
  clients: readonly TestClient[];
  scopes: readonly string[] | undefined;
  expiresIn: number;
} {
  const { clients = DEFAULT_CLIENTS, scopes, expiresIn = 3600 } = options;
  if (!Array.isArray(clients) || clients.some((c) => typeof c?.clientId !== 'string' || typeof c.clientSecret !== 'string')) {
    throw new TypeError('m2m-token/testing: option `clients` must be a list of { clientId, clientSecret }');
  }
  if (scopes !== undefined && (!Array.isArray(scopes) || scopes.some((s) => typeof s !== 'string'))) {
    throw new TypeError('m2m-token/testing: option `scopes` must be a list of strings');
  }
  validLifetime(expiresIn);
  return { clients: clients.map((c) => ({ ...c })), scopes, expiresIn };
}

function validLifetime(expiresIn: number): number {
  if (!Number.isInteger(expiresIn) || expiresIn < 0)
    throw new TypeError('m2m-token/testing: option `expiresIn` must be a non-negative integer (seconds)');
  return expiresIn;
}

/**
 * Starts a real OAuth 2.0 authorization server on 127.0.0.1 (an ephemeral port) for tests of code that
 * uses m2m-token, or any client credentials client: no mocks, the client talks HTTP to it.
 *
 * Endpoints: `POST /token` (client credentials grant; `client_secret_basic` or `client_secret_post`),
 * `POST /revoke` (RFC 7009), `POST /introspect` (RFC 7662) and
 * `GET /.well-known/oauth-authorization-server` (RFC 8414). Tokens are random opaque strings.
 *
 * @example
 * ```ts
 * const server = await createTestAuthorizationServer({ scopes: ['orders:read'], expiresIn: 60 });
 * const client = new ClientCredentialsClient({ issuer: server.issuer, clientId: 'test-client', clientSecret: 'test-secret' });
 * server.failNext({ status: 503, retryAfter: 1 });
 * await client.getToken({ scope: 'orders:read' }); // retried after the 503
 * await server.close();
 * ```
 */
export async function createTestAuthorizationServer(options: TestAuthorizationServerOptions = {}): Promise<TestAuthorizationServer> {
  const config = validated(options);
  let expiresIn = config.expiresIn;
  const tokens = new TokenRegistry();
  const counts: Record<Endpoint, number> = { token: 0, revocation: 0, introspection: 0, metadata: 0 };
  let failures: InjectedFailure[] = [];
  const timers = new Set<NodeJS.Timeout>();
  let issuer = '';

  const wait = (ms: number) =>
    new Promise<void>((resolve) => {
      const timer = setTimeout(() => {
        timers.delete(timer);
        resolve();
      }, ms);
      timers.add(timer);
    });

  /** Takes the first injected failure for `endpoint`, if any. */
  const takeFailure = (endpoint: Endpoint) => {
    const index = failures.findIndex((f) => (f.endpoint ?? 'token') === endpoint);
    return index < 0 ? undefined : failures.splice(index, 1)[0];
  };

  const answer = async (endpoint: Endpoint, req: IncomingMessage, res: ServerResponse): Promise<void> => {
    if (endpoint === 'metadata') {
      if (req.method !== 'GET') return sendJson(res, 405, { error: 'invalid_request' });
      return sendJson(res, 200, {
        issuer,
        token_endpoint: `${issuer}/token`,
        revocation_endpoint: `${issuer}/revoke`,
        introspection_endpoint: `${issuer}/introspect`,
        grant_types_supported: ['client_credentials'],
        token_endpoint_auth_methods_supported: ['client_secret_basic', 'client_secret_post'],
        ...(config.scopes && { scopes_supported: config.scopes }),
      });
    }
    if (req.method !== 'POST') return sendJson(res, 405, { error: 'invalid_request', error_description: 'POST only' });
    const form = await readForm(req);
    const client = authenticateClient(req, form, config.clients);
    if (client === undefined) return sendInvalidClient(req, res);
    const token = form.get('token');
    if (endpoint === 'revocation') {
      if (token !== null) tokens.revoke(token, client.clientId);
      return void res.writeHead(200).end();
    }
    if (endpoint === 'introspection') {
      const info = token === null ? ({ active: false } as const) : tokens.info(token);
      if (!info.active) return sendJson(res, 200, { active: false });
      return sendJson(res, 200, {
        active: true,
        client_id: info.clientId,
        scope: info.scope.join(' '),
        token_type: 'Bearer',
        exp: Math.floor(info.expiresAt / 1000),
      });
    }
    if (form.get('grant_type') !== 'client_credentials') return sendJson(res, 400, { error: 'unsupported_grant_type' });
    const scope = [...new Set((form.get('scope') ?? '').split(' ').filter(Boolean))];
    const allowed = client.scopes ?? config.scopes;
    const refused = allowed === undefined ? [] : scope.filter((s) => !allowed.includes(s));
    if (refused.length > 0)
      return sendJson(res, 400, { error: 'invalid_scope', error_description: `scope not allowed: ${refused.join(' ')}` });
    const accessToken = tokens.issue(client.clientId, scope, expiresIn);
    sendJson(res, 200, {
      access_token: accessToken,
      token_type: 'Bearer',
      expires_in: expiresIn,
      ...(scope.length > 0 && { scope: scope.join(' ') }),
    });
  };

  const server = createServer((req, res) => {
    const endpoint = PATHS[new URL(req.url ?? '/', 'http://localhost').pathname];
    if (endpoint === undefined) return sendJson(res, 404, { error: 'not_found' });
    counts[endpoint]++;
    const failure = takeFailure(endpoint);
    void (async () => {
      if (failure?.delay) await wait(failure.delay);
      if (!server.listening) return req.socket.destroy();
      if (failure?.reset) return req.socket.destroy();
      if (failure?.status !== undefined) {
        const headers: Record<string, string> = failure.retryAfter === undefined ? {} : { 'retry-after': String(failure.retryAfter) };
        const error = failure.error ?? (failure.status >= 500 ? 'temporarily_unavailable' : 'invalid_request');
        req.resume();
        return sendJson(res, failure.status, { error }, headers);
      }
      await answer(endpoint, req, res);
    })().catch(() => req.socket.destroy());
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  issuer = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;

  const close = async () => {
    if (!server.listening) return;
    for (const timer of timers) clearTimeout(timer);
    timers.clear();
    const closed = new Promise<void>((resolve) => server.close(() => resolve()));
    server.closeAllConnections();
    await closed;
  };
  return {
    issuer,
    tokenEndpoint: `${issuer}/token`,
    revocationEndpoint: `${issuer}/revoke`,
    introspectionEndpoint: `${issuer}/introspect`,
    get expiresIn() {
      return expiresIn;
    },
    set expiresIn(value: number) {
      expiresIn = validLifetime(value);
    },
    get tokenRequests() {
      return counts.token;
    },
    get requests() {
      return { ...counts };
    },
    get activeTokens() {
      return tokens.active;
    },
    failNext: (...next) => {
      failures.push(...next.map((f) => ({ ...f })));
    },
    verify: (token) => tokens.info(token),
    revoke: (token) => tokens.revoke(token),
    reset: () => {
      for (const key of Object.keys(counts) as Endpoint[]) counts[key] = 0;
      failures = [];
      tokens.clear();
    },
    close,
    [Symbol.asyncDispose]: close,
  };
}
