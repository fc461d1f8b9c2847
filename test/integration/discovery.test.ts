import { describe, expect, it } from 'vitest';
import { demoClients } from '../../examples/support/embedded-server.js';
import { useClients } from '../helpers/core.js';
import { recordingFetch, useAuthorizationServer } from './support.js';

const server = useAuthorizationServer();
const newClient = useClients({});

describe('discovery from the issuer (RFC 8414)', () => {
  it('with only the issuer configured, the client finds the token endpoint and gets a token', async () => {
    const as = server();
    const { fetch, sent } = recordingFetch();
    const client = newClient({ issuer: as.issuer, ...demoClients.basic, scope: 'orders:read', fetch });

    const token = await client.getToken();

    expect(token.scope).toBe('orders:read');
    expect((await as.introspect(token.accessToken)).active).toBe(true);
    // oidc-provider 9 serves RFC 8414 metadata, so the first location tried is the one used.
    const metadataRequests = sent.filter((r) => r.method === 'GET').map((r) => r.url);
    expect(metadataRequests).toEqual([`${as.issuer}/.well-known/oauth-authorization-server`]);
    const posts = sent.filter((r) => r.method === 'POST');
    expect(posts.map((r) => r.url)).toEqual([as.tokenEndpoint]);
  });

  it('with only the issuer configured, revoke() uses the discovered revocation endpoint and the token becomes inactive', async () => {
    const as = server();
    const { fetch, sent } = recordingFetch();
    const client = newClient({ issuer: as.issuer, ...demoClients.post, fetch });
    const token = await client.getToken();
    expect((await as.introspect(token.accessToken)).active).toBe(true);

    await client.revoke();

    expect((await as.introspect(token.accessToken)).active).toBe(false);
    const revocations = sent.filter((r) => r.url === as.revocationEndpoint);
    expect(revocations).toHaveLength(1);
    expect(revocations[0]!.form.get('token')).toBe(token.accessToken);
    expect(revocations[0]!.form.get('token_type_hint')).toBe('access_token');
  });

  it('concurrent first calls share one metadata lookup and one token request', async () => {
    const as = server();
    const issuedBefore = as.issued();
    const { fetch, sent } = recordingFetch();
    const client = newClient({ issuer: as.issuer, ...demoClients.basic, fetch });

    const tokens = await Promise.all(Array.from({ length: 20 }, () => client.getToken()));

    expect(new Set(tokens.map((t) => t.accessToken)).size).toBe(1);
    expect(as.issued() - issuedBefore).toBe(1);
    expect(sent.filter((r) => r.method === 'GET')).toHaveLength(1);
    expect(sent.filter((r) => r.method === 'POST')).toHaveLength(1);
  });

  it('an issuer given as a URL object matches the server issuer despite the trailing slash URL adds', async () => {
    const as = server();
    const issuer = new URL(as.issuer);
    expect(issuer.href).toBe(`${as.issuer}/`);
    const client = newClient({ issuer, ...demoClients.basic });

    const token = await client.getToken();

    expect((await as.introspect(token.accessToken)).active).toBe(true);
  });

  it('an issuer string that differs from the server issuer by a trailing slash is refused', async () => {
    const as = server();
    const client = newClient({ issuer: `${as.issuer}/`, ...demoClients.basic });

    await expect(client.getToken()).rejects.toMatchObject({ code: 'INVALID_RESPONSE' });
  });
});
