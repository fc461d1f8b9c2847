import { describe, expect, it } from 'vitest';
import { API_RESOURCE, demoClients } from '../../examples/support/embedded-server.js';
import { useClients } from '../helpers/core.js';
import { useAuthorizationServer } from './support.js';

const server = useAuthorizationServer();
const newClient = useClients({});

describe('caching and single flight against a real server', () => {
  it('50 concurrent getToken() calls cause exactly one token to be issued; a later call reuses it; forceRefresh issues a second', async () => {
    const as = server();
    const client = newClient({ tokenEndpoint: as.tokenEndpoint, ...demoClients.basic, scope: 'orders:read' });
    const before = as.issued();

    const tokens = await Promise.all(Array.from({ length: 50 }, () => client.getToken()));

    expect(as.issued() - before).toBe(1);
    expect(new Set(tokens.map((t) => t.accessToken)).size).toBe(1);

    const later = await client.getToken();
    expect(later.accessToken).toBe(tokens[0]!.accessToken);
    expect(as.issued() - before).toBe(1);

    const refreshed = await client.getToken({ forceRefresh: true });
    expect(as.issued() - before).toBe(2);
    expect(refreshed.accessToken).not.toBe(tokens[0]!.accessToken);
    expect((await as.introspect(refreshed.accessToken)).active).toBe(true);

    // The refreshed token replaced the cached one.
    expect((await client.getToken()).accessToken).toBe(refreshed.accessToken);
    expect(as.issued() - before).toBe(2);
  });

  it('concurrent forceRefresh calls join one request', async () => {
    const as = server();
    const client = newClient({ tokenEndpoint: as.tokenEndpoint, ...demoClients.post });
    await client.getToken();
    const before = as.issued();

    const tokens = await Promise.all(Array.from({ length: 10 }, () => client.getToken({ forceRefresh: true })));

    expect(as.issued() - before).toBe(1);
    expect(new Set(tokens.map((t) => t.accessToken)).size).toBe(1);
  });

  it('concurrent calls for different scopes and resources get one token per combination', async () => {
    const as = server();
    const client = newClient({ tokenEndpoint: as.tokenEndpoint, ...demoClients.basic });
    const before = as.issued();
    const variants = [
      { scope: 'orders:read' },
      { scope: 'orders:read orders:write' },
      { scope: 'orders:write orders:read' }, // same set as the previous one
      { scope: 'orders:read', resource: API_RESOURCE },
    ];

    const tokens = await Promise.all(variants.flatMap((v) => Array.from({ length: 10 }, () => client.getToken(v))));

    expect(as.issued() - before).toBe(3);
    expect(new Set(tokens.map((t) => t.accessToken)).size).toBe(3);
  });
});
