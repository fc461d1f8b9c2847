import { describe, expect, it } from 'vitest';
import { API_RESOURCE, demoClients } from '../../examples/support/embedded-server.js';
import { OAuthError } from '../../src/index.js';
import { useClients } from '../helpers/core.js';
import { useAuthorizationServer } from './support.js';

const server = useAuthorizationServer();
const newClient = useClients({});

describe('revocation (RFC 7009), checked by introspection (RFC 7662)', () => {
  it('revoke() makes the held token inactive at the server and the next getToken() gets a new one', async () => {
    const as = server();
    const client = newClient({
      tokenEndpoint: as.tokenEndpoint,
      revocationEndpoint: as.revocationEndpoint,
      ...demoClients.basic,
      scope: 'orders:read',
    });
    const token = await client.getToken();
    const before = await as.introspect(token.accessToken);
    expect(before).toMatchObject({ active: true, client_id: demoClients.basic.clientId, scope: 'orders:read', token_type: 'Bearer' });

    await client.revoke();

    expect(await as.introspect(token.accessToken)).toEqual({ active: false });
    const issuedBefore = as.issued();
    const next = await client.getToken();
    expect(next.accessToken).not.toBe(token.accessToken);
    expect(as.issued() - issuedBefore).toBe(1);
    expect((await as.introspect(next.accessToken)).active).toBe(true);
  });

  it('revoke(token) with client_secret_post revokes just that token', async () => {
    const as = server();
    const client = newClient({ tokenEndpoint: as.tokenEndpoint, revocationEndpoint: as.revocationEndpoint, ...demoClients.post });
    const read = await client.getToken({ scope: 'orders:read' });
    const write = await client.getToken({ scope: 'orders:write' });

    await client.revoke(read);

    expect((await as.introspect(read.accessToken)).active).toBe(false);
    expect((await as.introspect(write.accessToken)).active).toBe(true);
  });

  it('revoking a token of another client is refused by the server with an OAuthError and leaves the token active', async () => {
    const as = server();
    const owner = newClient({ tokenEndpoint: as.tokenEndpoint, ...demoClients.basic });
    const other = newClient({ tokenEndpoint: as.tokenEndpoint, revocationEndpoint: as.revocationEndpoint, ...demoClients.post });
    const token = await owner.getToken();

    const error = await other.revoke(token.accessToken).catch((e: unknown) => e);

    expect(error).toBeInstanceOf(OAuthError);
    expect((error as OAuthError).error).toBe('invalid_request');
    expect((await as.introspect(token.accessToken)).active).toBe(true);
  });

  it('close({ revoke: true }) revokes every token the client holds', async () => {
    const as = server();
    const client = newClient({
      tokenEndpoint: as.tokenEndpoint,
      revocationEndpoint: as.revocationEndpoint,
      ...demoClients.special,
      scope: 'orders:read',
    });
    const first = await client.getToken();
    const second = await client.getToken({ scope: 'orders:write' });
    expect((await as.introspect(first.accessToken)).active).toBe(true);
    expect((await as.introspect(second.accessToken)).active).toBe(true);

    const result = await client.close({ revoke: true });

    expect(result).toEqual({ revoked: 2, errors: [], skipped: 0 });
    expect((await as.introspect(first.accessToken)).active).toBe(false);
    expect((await as.introspect(second.accessToken)).active).toBe(false);
  });

  it('close({ revoke: true }) reports the server refusing to revoke a JWT access token (unsupported_token_type) and still revokes the opaque ones', async () => {
    const as = server();
    const client = newClient({ issuer: as.issuer, ...demoClients.basic, scope: 'orders:read' });
    const opaque = await client.getToken();
    await client.getToken({ resource: API_RESOURCE });

    const result = await client.close({ revoke: true });

    expect(result.revoked).toBe(1);
    expect(result.errors).toHaveLength(1);
    expect(result.errors[0]).toBeInstanceOf(OAuthError);
    expect((result.errors[0] as OAuthError).error).toBe('unsupported_token_type');
    expect((await as.introspect(opaque.accessToken)).active).toBe(false);
  });
});
