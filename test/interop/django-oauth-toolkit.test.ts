/**
 * m2m-token against Django OAuth Toolkit (DOT), a real third-party authorization server in Python,
 * black-box through the public API. Every count is taken on the server (a middleware in the Django
 * project counts requests by method, path and status), not from the client's own events.
 */
import { inspect } from 'node:util';
import { describe, expect, it } from 'vitest';
import { OAuthError, TokenError } from '../../src/index.js';
import {
  basicCredentials,
  dot,
  introspect,
  recordingFetch,
  revocationEndpoint,
  revokeAtServer,
  serverRequests,
  tokenEndpoint,
  useClients,
} from './support.js';

const newClient = useClients();

describe('client authentication against Django OAuth Toolkit', () => {
  it('client_secret_basic: one token request with the credentials only in the Authorization header', async () => {
    const { main } = dot().clients;
    const { fetch, sent } = recordingFetch();
    const client = newClient({ tokenEndpoint: tokenEndpoint(), ...main, clientAuth: 'client_secret_basic', fetch });
    const requests = await serverRequests();

    const token = await client.getToken();

    expect(await requests.since()).toEqual({ 'POST /o/token/ 200': 1 });
    expect(token.tokenType).toBe('Bearer');
    expect(token.scope).toBe('orders:read');
    expect(await introspect(token.accessToken)).toMatchObject({ active: true, client_id: main.clientId, scope: 'orders:read' });
    expect(sent).toHaveLength(1);
    expect(sent[0]!.headers.get('authorization')).toBe(basicCredentials(main));
    expect(sent[0]!.form.has('client_secret')).toBe(false);
  });

  it('client_secret_post: one token request with the credentials only in the form body', async () => {
    const { main } = dot().clients;
    const { fetch, sent } = recordingFetch();
    const client = newClient({ tokenEndpoint: tokenEndpoint(), ...main, clientAuth: 'client_secret_post', fetch });
    const requests = await serverRequests();

    const token = await client.getToken();

    expect(await requests.since()).toEqual({ 'POST /o/token/ 200': 1 });
    expect(await introspect(token.accessToken)).toMatchObject({ active: true, client_id: main.clientId });
    expect(sent).toHaveLength(1);
    expect(sent[0]!.headers.has('authorization')).toBe(false);
    expect(sent[0]!.form.get('client_id')).toBe(main.clientId);
    expect(sent[0]!.form.get('client_secret')).toBe(main.clientSecret);
  });

  it.each(['client_secret_basic', 'client_secret_post'] as const)(
    'a secret with the RFC 6749 §2.3.1 reserved characters (colon, at, plus, percent, space, & = / " ? ~) authenticates with %s',
    async (clientAuth) => {
      const { special } = dot().clients;
      for (const c of [':', '@', '+', '%', ' ', '&', '=', '/', '"', '?', '~']) expect(special.clientSecret).toContain(c);
      const client = newClient({ tokenEndpoint: tokenEndpoint(), ...special, clientAuth });

      const token = await client.getToken();

      expect(await introspect(token.accessToken)).toMatchObject({ active: true, client_id: special.clientId });
    },
  );

  it.each(['client_secret_basic', 'client_secret_post'] as const)(
    'a wrong secret with %s fails with OAuthError invalid_client (401) after one request (Basic: one more with the raw credential, as the secret has reserved characters), and the secret appears nowhere',
    async (clientAuth) => {
      const wrongSecret = `not-the-secret:${dot().clients.main.clientSecret.slice(0, 6)}@+%`;
      const client = newClient({
        tokenEndpoint: tokenEndpoint(),
        clientId: dot().clients.main.clientId,
        clientSecret: wrongSecret,
        clientAuth,
      });
      const requests = await serverRequests();

      const error = await client.getToken().catch((e: unknown) => e);

      expect(await requests.since()).toEqual({ 'POST /o/token/ 401': clientAuth === 'client_secret_basic' ? 2 : 1 });
      expect(error).toBeInstanceOf(OAuthError);
      expect(TokenError.is(error)).toBe(true);
      const oauthError = error as OAuthError;
      expect(oauthError.code).toBe('OAUTH_ERROR');
      expect(oauthError.error).toBe('invalid_client');
      expect(oauthError.status).toBe(401);
      for (const text of [oauthError.message, String(oauthError), inspect(oauthError, { depth: 5 }), JSON.stringify(oauthError)]) {
        expect(text).not.toContain(wrongSecret);
        expect(text).not.toContain(encodeURIComponent(wrongSecret));
      }
    },
  );

  it('a scope the server does not know fails with OAuthError invalid_scope (400) after exactly one request', async () => {
    const client = newClient({ tokenEndpoint: tokenEndpoint(), ...dot().clients.main, scope: 'orders:delete' });
    const requests = await serverRequests();

    const error = await client.getToken().catch((e: unknown) => e);

    expect(await requests.since()).toEqual({ 'POST /o/token/ 400': 1 });
    expect(error).toBeInstanceOf(OAuthError);
    expect((error as OAuthError).code).toBe('OAUTH_ERROR');
    expect((error as OAuthError).error).toBe('invalid_scope');
    expect((error as OAuthError).status).toBe(400);
  });
});

describe('caching and single flight, counted on the server', () => {
  it('20 concurrent getToken() calls cause one token request; later calls are served from the cache', async () => {
    const client = newClient({ tokenEndpoint: tokenEndpoint(), ...dot().clients.main });
    const requests = await serverRequests();

    const tokens = await Promise.all(Array.from({ length: 20 }, () => client.getToken()));
    const again = await client.getToken();

    expect(await requests.since()).toEqual({ 'POST /o/token/ 200': 1 });
    expect(new Set(tokens.map((t) => t.accessToken)).size).toBe(1);
    expect(again.accessToken).toBe(tokens[0]!.accessToken);
  });

  it('tokens for different scopes are requested once each and cached apart', async () => {
    const client = newClient({ tokenEndpoint: tokenEndpoint(), ...dot().clients.main });
    const requests = await serverRequests();

    const tokens = await Promise.all(
      Array.from({ length: 10 }, (_, i) => client.getToken({ scope: i % 2 === 0 ? 'orders:read' : 'orders:write' })),
    );

    expect(await requests.since()).toEqual({ 'POST /o/token/ 200': 2 });
    expect(new Set(tokens.map((t) => t.accessToken)).size).toBe(2);
    expect((await introspect(tokens[1]!.accessToken)).scope).toBe('orders:write');
  });
});

describe('revocation (RFC 7009), checked by DOT introspection (RFC 7662)', () => {
  it('revoke() makes the held token inactive and the next getToken() requests a new one', async () => {
    const client = newClient({ tokenEndpoint: tokenEndpoint(), revocationEndpoint: revocationEndpoint(), ...dot().clients.main });
    const token = await client.getToken();
    expect((await introspect(token.accessToken)).active).toBe(true);
    const requests = await serverRequests();

    await client.revoke();

    expect(await introspect(token.accessToken)).toEqual({ active: false });
    const next = await client.getToken();
    expect(next.accessToken).not.toBe(token.accessToken);
    expect((await introspect(next.accessToken)).active).toBe(true);
    expect(await requests.since()).toEqual({ 'POST /o/revoke_token/ 200': 1, 'POST /o/token/ 200': 1, 'POST /o/introspect/ 200': 2 });
  });

  it('revoke() with client_secret_post revokes the held token', async () => {
    const client = newClient({
      tokenEndpoint: tokenEndpoint(),
      revocationEndpoint: revocationEndpoint(),
      ...dot().clients.special,
      clientAuth: 'client_secret_post',
    });
    const token = await client.getToken();

    await client.revoke();

    expect(await introspect(token.accessToken)).toEqual({ active: false });
  });

  it('close({ revoke: true }) revokes every token the client holds and says so in CloseResult', async () => {
    const client = newClient({ tokenEndpoint: tokenEndpoint(), revocationEndpoint: revocationEndpoint(), ...dot().clients.main });
    const read = await client.getToken();
    const write = await client.getToken({ scope: 'orders:write' });
    const requests = await serverRequests();

    const result = await client.close({ revoke: true });

    expect(result).toEqual({ revoked: 2, errors: [], skipped: 0 });
    expect(await requests.since()).toEqual({ 'POST /o/revoke_token/ 200': 2 });
    expect((await introspect(read.accessToken)).active).toBe(false);
    expect((await introspect(write.accessToken)).active).toBe(false);
  });

  it('DOT quirk: a client may revoke a token issued to another client (RFC 7009 §2.1 says the server refuses)', async () => {
    const owner = newClient({ tokenEndpoint: tokenEndpoint(), ...dot().clients.main });
    const other = newClient({ tokenEndpoint: tokenEndpoint(), revocationEndpoint: revocationEndpoint(), ...dot().clients.other });
    const token = await owner.getToken();

    await other.revoke(token.accessToken);

    expect(await introspect(token.accessToken)).toEqual({ active: false });
  });
});

describe('client.fetch against resources protected by DOT', () => {
  const api = () => `${dot().url}/api/orders/`;
  const dotApi = () => `${dot().url}/api/dot/orders/`;

  it('attaches the token: the RFC 6750 resource answers 200 for the client, with one token request', async () => {
    const { main } = dot().clients;
    const client = newClient({ tokenEndpoint: tokenEndpoint(), ...main });
    const requests = await serverRequests();

    const response = await client.fetch(api());

    expect(response.status).toBe(200);
    expect(await response.json()).toEqual({ orders: [], client_id: main.clientId });
    expect(await requests.since()).toEqual({ 'POST /o/token/ 200': 1, 'GET /api/orders/ 200': 1 });
  });

  it('recovers from a token revoked behind its back: the 401 (invalid_token) costs one new token and the call still gets 200', async () => {
    const { main } = dot().clients;
    const client = newClient({ tokenEndpoint: tokenEndpoint(), ...main });
    const first = await client.fetch(api());
    expect(first.status).toBe(200);
    const stale = await client.getToken();
    await revokeAtServer(stale.accessToken, main);
    const requests = await serverRequests();

    const response = await client.fetch(api());

    expect(response.status).toBe(200);
    expect(await requests.since()).toEqual({ 'GET /api/orders/ 401': 1, 'POST /o/token/ 200': 1, 'GET /api/orders/ 200': 1 });
    const fresh = await client.getToken();
    expect(fresh.accessToken).not.toBe(stale.accessToken);
    expect((await introspect(fresh.accessToken)).active).toBe(true);
  });

  it('returns a 403 insufficient_scope as is: a token without the scope is neither dropped nor replaced', async () => {
    const client = newClient({ tokenEndpoint: tokenEndpoint(), ...dot().clients.main, scope: 'orders:write' });
    const token = await client.getToken();
    const requests = await serverRequests();

    const response = await client.fetch(api());

    expect(response.status).toBe(403);
    expect(response.headers.get('www-authenticate')).toBe('Bearer error="insufficient_scope", scope="orders:read"');
    expect(await requests.since()).toEqual({ 'GET /api/orders/ 403': 1 });
    expect((await client.getToken()).accessToken).toBe(token.accessToken);
  });

  it("DOT quirk: DOT's own ProtectedResourceView answers a revoked token with a bare 403, so the client returns it and gets no new token", async () => {
    const { main } = dot().clients;
    const client = newClient({ tokenEndpoint: tokenEndpoint(), ...main });
    expect((await client.fetch(dotApi())).status).toBe(200);
    const stale = await client.getToken();
    await revokeAtServer(stale.accessToken, main);
    const requests = await serverRequests();

    const response = await client.fetch(dotApi());

    expect(response.status).toBe(403);
    expect(response.headers.get('www-authenticate')).toBeNull();
    expect(await requests.since()).toEqual({ 'GET /api/dot/orders/ 403': 1 });
    expect((await client.getToken()).accessToken).toBe(stale.accessToken);
  });
});

describe('discovery', () => {
  it('DOT quirk: its only metadata, /o/.well-known/openid-configuration/, has a trailing slash; the slashless URL redirects (301) within the origin, which discovery follows', async () => {
    const { main } = dot().clients;
    const client = newClient({ issuer: `${dot().url}/o`, ...main });
    const requests = await serverRequests();

    const token = await client.getToken();

    expect(await requests.since()).toEqual({
      'GET /.well-known/oauth-authorization-server/o 404': 1,
      'GET /.well-known/openid-configuration/o 404': 1,
      'GET /o/.well-known/openid-configuration 301': 1,
      'GET /o/.well-known/openid-configuration/ 200': 1,
      'POST /o/token/ 200': 1,
    });
    expect(await introspect(token.accessToken)).toMatchObject({ active: true, client_id: main.clientId });
    const metadata = (await (await fetch(`${dot().url}/o/.well-known/openid-configuration/`)).json()) as Record<string, unknown>;
    expect(metadata).toMatchObject({ issuer: `${dot().url}/o`, token_endpoint: tokenEndpoint() });
    expect(metadata).not.toHaveProperty('revocation_endpoint');
    expect(metadata).not.toHaveProperty('introspection_endpoint');
  });
});
