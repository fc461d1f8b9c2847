/**
 * `m2m-token/testing`: the test authorization server, exercised through the real client over loopback
 * HTTP (no mocks), and `checkToken` behind a small resource server.
 */
import { once } from 'node:events';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import { OAuthError } from '../../src/index.js';
import { checkToken, createTestAuthorizationServer, type TestAuthorizationServer } from '../../src/testing.js';
import { rejectionOf, useClients } from '../helpers/core.js';

let server: TestAuthorizationServer;
beforeAll(async () => {
  server = await createTestAuthorizationServer({
    scopes: ['orders:read', 'orders:write'],
    clients: [
      { clientId: 'svc', clientSecret: 'svc-secret' },
      { clientId: 'reader app', clientSecret: 'reader secret/+', scopes: ['orders:read'] },
    ],
  });
});
afterAll(() => server.close());
afterEach(() => server.reset());

const newClient = useClients({ clientId: 'svc', clientSecret: 'svc-secret', retry: false });

/** A raw form POST to the server, authenticated as `svc` with client_secret_basic. */
async function post(url: string, form: Record<string, string>, credentials = 'svc:svc-secret') {
  const response = await fetch(url, {
    method: 'POST',
    headers: { authorization: `Basic ${Buffer.from(credentials).toString('base64')}`, 'content-type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams(form),
  });
  return {
    status: response.status,
    headers: response.headers,
    body: response.status === 200 && form.token !== undefined && url.endsWith('/revoke') ? undefined : await response.json(),
  };
}

describe('token endpoint', () => {
  it('issues an opaque token through issuer discovery, for the scope asked, that verify() knows', async () => {
    const client = newClient({ issuer: server.issuer, scope: 'orders:read' });
    const token = await client.getToken();
    expect(token.accessToken).toMatch(/^[A-Za-z0-9_-]{32}$/);
    expect(server.verify(token.accessToken)).toMatchObject({ active: true, clientId: 'svc', scope: ['orders:read'] });
    expect(server.verify('not-a-token')).toEqual({ active: false });
    expect(server.requests).toEqual({ token: 1, revocation: 0, introspection: 0, metadata: 1 });
    expect(server.tokenRequests).toBe(1);
    expect(server.activeTokens).toBe(1);
  });

  it('issues tokens for expiresIn seconds, changeable between requests', async () => {
    const before = Date.now();
    const first = await newClient({ tokenEndpoint: server.tokenEndpoint }).getToken();
    expect(first.expiresAt).toBeGreaterThanOrEqual(before + 3600_000 - 1000);
    expect(first.expiresAt).toBeLessThanOrEqual(Date.now() + 3600_000);
    server.expiresIn = 1;
    const second = await newClient({ tokenEndpoint: server.tokenEndpoint, defaultLifetime: 99 }).getToken({ scope: 'orders:write' });
    expect(second.expiresAt).toBeLessThanOrEqual(Date.now() + 1000);
    const info = server.verify(second.accessToken);
    expect(info.active && info.expiresAt).toBeLessThanOrEqual(Date.now() + 1000);
    server.expiresIn = 3600;
  });

  it('a token expires after expiresIn seconds: verify() then calls it inactive', async () => {
    const token = await newClient({ tokenEndpoint: server.tokenEndpoint }).getToken();
    vi.useFakeTimers({ toFake: ['Date'] });
    vi.setSystemTime(Date.now() + 3599_000);
    expect(server.verify(token.accessToken).active).toBe(true);
    vi.setSystemTime(Date.now() + 2000);
    expect(server.verify(token.accessToken)).toEqual({ active: false });
    expect(server.activeTokens).toBe(0);
  });

  it('an unknown scope is invalid_scope, and a client is limited to its own scopes', async () => {
    const unknown = await rejectionOf(newClient({ tokenEndpoint: server.tokenEndpoint }).getToken({ scope: 'admin' }));
    expect(unknown).toBeInstanceOf(OAuthError);
    expect(unknown).toMatchObject({ error: 'invalid_scope', status: 400 });
    const reader = newClient({ tokenEndpoint: server.tokenEndpoint, clientId: 'reader app', clientSecret: 'reader secret/+' });
    expect(await rejectionOf(reader.getToken({ scope: 'orders:write' }))).toMatchObject({ error: 'invalid_scope' });
    await expect(reader.getToken({ scope: 'orders:read' })).resolves.toBeDefined();
  });

  it('a wrong secret or an unknown client is 401 invalid_client; client_secret_post works too', async () => {
    for (const options of [{ clientSecret: 'wrong' }, { clientId: 'nobody' }]) {
      const error = await rejectionOf(newClient({ tokenEndpoint: server.tokenEndpoint, ...options }).getToken());
      expect(error).toMatchObject({ error: 'invalid_client', status: 401 });
    }
    await expect(newClient({ tokenEndpoint: server.tokenEndpoint, clientAuth: 'client_secret_post' }).getToken()).resolves.toBeDefined();
  });

  it('another grant type is unsupported_grant_type', async () => {
    const response = await post(server.tokenEndpoint, { grant_type: 'password' });
    expect(response).toMatchObject({ status: 400, body: { error: 'unsupported_grant_type' } });
  });
});

describe('revocation and introspection', () => {
  it('client.revoke() revokes the token on the server (RFC 7009)', async () => {
    const client = newClient({ issuer: server.issuer });
    const token = await client.getToken();
    await client.revoke(token);
    expect(server.verify(token.accessToken)).toEqual({ active: false });
    expect(server.requests.revocation).toBe(1);
  });

  it("a client cannot revoke another client's token", async () => {
    const token = await newClient({ tokenEndpoint: server.tokenEndpoint, scope: 'orders:read' }).getToken();
    expect((await post(server.revocationEndpoint, { token: token.accessToken }, 'reader+app:reader%20secret%2F%2B')).status).toBe(200);
    expect(server.verify(token.accessToken).active).toBe(true);
  });

  it('the introspection endpoint answers active with client and scope, then inactive once revoked (RFC 7662)', async () => {
    const token = await newClient({ tokenEndpoint: server.tokenEndpoint, scope: ['orders:read', 'orders:write'] }).getToken();
    const active = await post(server.introspectionEndpoint, { token: token.accessToken });
    expect(active.body).toMatchObject({ active: true, client_id: 'svc', scope: 'orders:read orders:write', token_type: 'Bearer' });
    // The server's clock and the client's (which counts from when it sent the request) differ slightly.
    expect(Math.abs((active.body as { exp: number }).exp - token.expiresAt / 1000)).toBeLessThan(5);
    server.revoke(token.accessToken);
    expect((await post(server.introspectionEndpoint, { token: token.accessToken })).body).toEqual({ active: false });
    expect((await post(server.introspectionEndpoint, { token: token.accessToken }, 'svc:wrong')).status).toBe(401);
    expect(server.requests.introspection).toBe(3);
  });

  it('the metadata names every endpoint and the allowed scopes (RFC 8414)', async () => {
    const metadata = await (await fetch(`${server.issuer}/.well-known/oauth-authorization-server`)).json();
    expect(metadata).toMatchObject({
      issuer: server.issuer,
      token_endpoint: server.tokenEndpoint,
      revocation_endpoint: server.revocationEndpoint,
      introspection_endpoint: server.introspectionEndpoint,
      scopes_supported: ['orders:read', 'orders:write'],
    });
  });
});

describe('failure injection', () => {
  it('a 503 is answered once, then the retried request gets a token', async () => {
    server.failNext({ status: 503, retryAfter: 0 });
    const client = newClient({ tokenEndpoint: server.tokenEndpoint, retry: { retries: 2, minDelay: 0, maxDelay: 0 } });
    const retries: unknown[] = [];
    client.on('retry', (e) => retries.push(e.status));
    await expect(client.getToken()).resolves.toBeDefined();
    expect(retries).toEqual([503]);
    expect(server.tokenRequests).toBe(2);
  });

  it('failures apply in order, with their error code and Retry-After', async () => {
    server.failNext({ status: 503, retryAfter: 7 }, { status: 400, error: 'invalid_request' });
    // No cooldown after the 503: the next failure must reach the client at once.
    const client = newClient({ tokenEndpoint: server.tokenEndpoint, cooldown: { max: 0 } });
    expect(await rejectionOf(client.getToken())).toMatchObject({ error: 'temporarily_unavailable', status: 503, retryAfter: 7000 });
    expect(await rejectionOf(client.getToken())).toMatchObject({ error: 'invalid_request', status: 400 });
    await expect(client.getToken()).resolves.toBeDefined();
  });

  it('a delay longer than the client timeout is a TIMEOUT; a reset is a NETWORK error', async () => {
    server.failNext({ delay: 60_000 }, { reset: true });
    const client = newClient({ tokenEndpoint: server.tokenEndpoint, timeout: 2000 });
    expect((await rejectionOf(client.getToken())).code).toBe('TIMEOUT');
    expect((await rejectionOf(client.getToken())).code).toBe('NETWORK');
    await expect(client.getToken()).resolves.toBeDefined();
    expect(server.tokenRequests).toBe(3);
  });

  it('a failure for another endpoint leaves token requests alone', async () => {
    server.failNext({ endpoint: 'revocation', status: 500 });
    const client = newClient({ tokenEndpoint: server.tokenEndpoint, revocationEndpoint: server.revocationEndpoint });
    const token = await client.getToken();
    expect(await rejectionOf(client.revoke(token))).toMatchObject({ status: 500 });
    await client.revoke(token);
    expect(server.verify(token.accessToken).active).toBe(false);
  });
});

describe('checkToken behind a resource server', () => {
  let api: Server;
  let apiUrl: string;
  beforeAll(async () => {
    api = createServer((req, res) => {
      const check = checkToken(server, req.headers.authorization, 'orders:read');
      if (!check.ok) return res.writeHead(check.status, { 'www-authenticate': check.wwwAuthenticate }).end();
      res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ client: check.token.clientId }));
    });
    api.listen(0, '127.0.0.1');
    await once(api, 'listening');
    apiUrl = `http://127.0.0.1:${(api.address() as AddressInfo).port}/orders`;
  });
  afterAll(() => new Promise((resolve) => api.close(resolve)));

  it('accepts an active token with the scope, and client.fetch recovers from a token revoked on the server', async () => {
    const client = newClient({ issuer: server.issuer, scope: 'orders:read' });
    expect(await (await client.fetch(apiUrl)).json()).toEqual({ client: 'svc' });
    server.revoke((await client.getToken()).accessToken);
    expect((await client.fetch(apiUrl)).status).toBe(200);
    expect(server.tokenRequests).toBe(2);
  });

  it('answers 401 without a token or with an unknown one, 403 without the scope', async () => {
    expect(checkToken(server, undefined)).toMatchObject({ ok: false, status: 401, error: undefined });
    expect(checkToken(server, 'Bearer nope')).toMatchObject({ ok: false, status: 401, error: 'invalid_token' });
    const token = await newClient({ tokenEndpoint: server.tokenEndpoint, scope: 'orders:write' }).getToken();
    expect(checkToken(server, `Bearer ${token.accessToken}`, 'orders:read')).toMatchObject({
      ok: false,
      status: 403,
      error: 'insufficient_scope',
    });
    expect(checkToken(server, `bearer ${token.accessToken}`, ['orders:write'])).toMatchObject({ ok: true, token: { clientId: 'svc' } });
    expect((await fetch(apiUrl, { headers: { authorization: `Bearer ${token.accessToken}` } })).status).toBe(403);
  });
});

describe('lifecycle and options', () => {
  it('close() stops the server: the client then gets a NETWORK error; await using closes it too', async () => {
    let issuer: string;
    {
      await using scoped = await createTestAuthorizationServer();
      issuer = scoped.issuer;
      await expect(newClient({ issuer, clientId: 'test-client', clientSecret: 'test-secret' }).getToken()).resolves.toBeDefined();
    }
    expect((await rejectionOf(newClient({ issuer, clientId: 'test-client', clientSecret: 'test-secret' }).getToken())).code).toBe(
      'NETWORK',
    );
  });

  it('close() ends a delayed answer instead of waiting for it', async () => {
    const other = await createTestAuthorizationServer();
    other.failNext({ delay: 60_000 });
    const pending = rejectionOf(
      newClient({ tokenEndpoint: other.tokenEndpoint, clientId: 'test-client', clientSecret: 'test-secret' }).getToken(),
    );
    while (other.tokenRequests === 0) await new Promise((r) => setTimeout(r, 5));
    await other.close();
    expect((await pending).code).toBe('NETWORK');
  });

  it.each([
    ['clients', { clients: [{ clientId: 'x' }] }, /option `clients`/],
    ['scopes', { scopes: 'a b' }, /option `scopes`/],
    ['expiresIn', { expiresIn: -1 }, /option `expiresIn`/],
  ])('an invalid %s is a TypeError naming it', async (_name, options, message) => {
    await expect(createTestAuthorizationServer(options as never)).rejects.toThrow(message);
  });
});
