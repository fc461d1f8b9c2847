import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { demoClients, startResourceServer, type ResourceServer } from '../../examples/support/embedded-server.js';
import { useClients } from '../helpers/core.js';
import { useAuthorizationServer } from './support.js';

const server = useAuthorizationServer();
const newClient = useClients({});
let api: ResourceServer;

beforeAll(async () => {
  api = await startResourceServer({ introspectionEndpoint: server().introspectionEndpoint, ...demoClients.resourceServer });
});
afterAll(async () => {
  await api?.close();
});

describe('the fetch wrapper against a resource server that introspects each token', () => {
  it('sends the token and gets the protected resource', async () => {
    const as = server();
    const client = newClient({ tokenEndpoint: as.tokenEndpoint, ...demoClients.basic, scope: 'orders:read' });

    const response = await client.fetch(`${api.url}/orders?limit=1`);

    expect(response.status).toBe(200);
    expect(await response.json()).toEqual({
      path: '/orders?limit=1',
      method: 'GET',
      client_id: demoClients.basic.clientId,
      scope: 'orders:read',
    });
  });

  it('the resource server refuses a request without a token', async () => {
    const response = await fetch(`${api.url}/orders`);

    expect(response.status).toBe(401);
    expect(response.headers.get('www-authenticate')).toMatch(/^Bearer /);
    await response.body?.cancel();
  });

  it("after the server revokes the token behind the client's back, the next call gets a 401, refreshes once and the caller sees 200", async () => {
    const as = server();
    const client = newClient({ tokenEndpoint: as.tokenEndpoint, ...demoClients.post, scope: 'orders:read orders:write' });
    expect((await client.fetch(`${api.url}/orders`)).status).toBe(200);
    const revoked = await client.getToken();
    const issuedBefore = as.issued();
    const requestsBefore = api.requests();

    await as.revoke(revoked.accessToken);
    expect((await as.introspect(revoked.accessToken)).active).toBe(false);
    const response = await client.fetch(`${api.url}/orders`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ item: 'book' }),
    });

    expect(response.status).toBe(200);
    expect(await response.json()).toMatchObject({ method: 'POST', client_id: demoClients.post.clientId });
    expect(as.issued() - issuedBefore).toBe(1);
    // The 401 with the revoked token, then the retry with the new one.
    expect(api.requests() - requestsBefore).toBe(2);
    const current = await client.getToken();
    expect(current.accessToken).not.toBe(revoked.accessToken);
    expect((await as.introspect(current.accessToken)).active).toBe(true);
    expect(as.issued() - issuedBefore).toBe(1);
  });

  it('a wrapper keeps its own scope and recovers from a server-side revocation the same way', async () => {
    const as = server();
    const client = newClient({ tokenEndpoint: as.tokenEndpoint, ...demoClients.basic, scope: 'orders:read' });
    const writer = client.createFetch({ scope: 'orders:write', allowedOrigins: [api.url] });

    const first = await writer(`${api.url}/orders`);
    expect(await first.json()).toMatchObject({ scope: 'orders:write' });
    const token = await client.getToken({ scope: 'orders:write' });
    await as.revoke(token.accessToken);
    const issuedBefore = as.issued();

    const second = await writer(`${api.url}/orders`);

    expect(second.status).toBe(200);
    expect(await second.json()).toMatchObject({ scope: 'orders:write' });
    expect(as.issued() - issuedBefore).toBe(1);
  });

  it('when the new token is refused too, the caller gets the 401 after exactly one retry', async () => {
    const as = server();
    const client = newClient({ tokenEndpoint: as.tokenEndpoint, ...demoClients.basic, scope: 'orders:read' });
    // Revoke every token this client is issued from now on, as soon as it is issued.
    const revokeOnIssue = (token: { jti: string }) => {
      void as.revoke(token.jti);
    };
    const held = await client.getToken();
    await as.revoke(held.accessToken);
    as.provider.on('client_credentials.saved', revokeOnIssue);
    try {
      const requestsBefore = api.requests();
      const issuedBefore = as.issued();

      const response = await client.fetch(`${api.url}/orders`);

      expect(response.status).toBe(401);
      expect(response.headers.get('www-authenticate')).toContain('error="invalid_token"');
      await response.body?.cancel();
      expect(api.requests() - requestsBefore).toBe(2);
      expect(as.issued() - issuedBefore).toBe(1);
    } finally {
      as.provider.off('client_credentials.saved', revokeOnIssue);
    }
  });
});
