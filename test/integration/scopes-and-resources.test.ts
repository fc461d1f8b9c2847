import { createLocalJWKSet, createRemoteJWKSet, decodeProtectedHeader, jwtVerify, type JSONWebKeySet } from 'jose';
import { describe, expect, it } from 'vitest';
import { API_RESOURCE, RESTRICTED_SCOPE, demoClients } from '../../examples/support/embedded-server.js';
import { OAuthError } from '../../src/index.js';
import { useClients } from '../helpers/core.js';
import { countEvents, recordingFetch, useAuthorizationServer } from './support.js';

const TTL = 120;
const server = useAuthorizationServer({ accessTokenTtl: TTL });
const newClient = useClients({});

describe('scopes', () => {
  it('grants the requested scopes and reports them in token.scope', async () => {
    const as = server();
    const client = newClient({ tokenEndpoint: as.tokenEndpoint, ...demoClients.basic, scope: ['orders:write', 'orders:read'] });

    const token = await client.getToken();

    expect(token.scope?.split(' ').sort()).toEqual(['orders:read', 'orders:write']);
    expect((await as.introspect(token.accessToken)).scope?.split(' ').sort()).toEqual(['orders:read', 'orders:write']);
  });

  it('a per-call scope gets its own token with just that scope', async () => {
    const as = server();
    const client = newClient({ tokenEndpoint: as.tokenEndpoint, ...demoClients.post, scope: 'orders:read orders:write' });

    const both = await client.getToken();
    const readOnly = await client.getToken({ scope: 'orders:read' });

    expect(readOnly.accessToken).not.toBe(both.accessToken);
    expect(readOnly.scope).toBe('orders:read');
    expect((await as.introspect(readOnly.accessToken)).scope).toBe('orders:read');
  });

  it('a scope the client is not allowed fails with OAuthError invalid_scope and is not retried', async () => {
    const as = server();
    const failures = countEvents(as, 'grant.error');
    const issuedBefore = as.issued();
    const client = newClient({ tokenEndpoint: as.tokenEndpoint, ...demoClients.basic, scope: ['orders:read', RESTRICTED_SCOPE] });

    const error = await client.getToken().catch((e: unknown) => e);
    failures.off();

    expect(error).toBeInstanceOf(OAuthError);
    expect((error as OAuthError).error).toBe('invalid_scope');
    expect((error as OAuthError).status).toBe(400);
    expect(failures.count()).toBe(1);
    expect(as.issued()).toBe(issuedBefore);
  });

  it('a scope the server does not know is left out of the grant, and token.scope shows what was granted', async () => {
    const as = server();
    const client = newClient({ tokenEndpoint: as.tokenEndpoint, ...demoClients.basic, scope: 'orders:read no-such:scope' });

    const token = await client.getToken();

    expect(token.scope).toBe('orders:read');
    expect((await as.introspect(token.accessToken)).scope).toBe('orders:read');
  });
});

describe('resource indicators (RFC 8707)', () => {
  it('a token for the resource server is a JWT access token that verifies against the jwks_uri with the right aud, iss, client_id and scope', async () => {
    const as = server();
    const { fetch, sent } = recordingFetch();
    const client = newClient({
      tokenEndpoint: as.tokenEndpoint,
      ...demoClients.basic,
      scope: 'orders:read orders:write',
      resource: API_RESOURCE,
      fetch,
    });

    const token = await client.getToken();

    expect(sent[0]!.form.getAll('resource')).toEqual([API_RESOURCE]);
    expect(decodeProtectedHeader(token.accessToken).typ).toBe('at+jwt');
    const { payload, protectedHeader } = await jwtVerify(token.accessToken, createRemoteJWKSet(new URL(as.jwksUri)), {
      issuer: as.issuer,
      audience: API_RESOURCE,
      typ: 'at+jwt',
      algorithms: ['RS256'],
    });
    expect(protectedHeader.alg).toBe('RS256');
    expect(payload.aud).toBe(API_RESOURCE);
    expect(payload.iss).toBe(as.issuer);
    expect(payload.client_id).toBe(demoClients.basic.clientId);
    expect(payload.sub).toBe(demoClients.basic.clientId);
    expect(String(payload.scope).split(' ').sort()).toEqual(['orders:read', 'orders:write']);
    expect(token.scope?.split(' ').sort()).toEqual(['orders:read', 'orders:write']);
    // The client never thinks the token lives longer than the server says (exp is in whole seconds).
    expect(payload.exp! - payload.iat!).toBe(TTL);
    expect(token.expiresAt).toBeLessThanOrEqual(payload.exp! * 1000 + 1000);
    expect(token.expiresAt).toBeGreaterThan(payload.exp! * 1000 - 60_000);
  });

  it('the JWT fails verification for another audience, and opaque tokens are issued when no resource is asked for', async () => {
    const as = server();
    const jwks = createLocalJWKSet((await (await fetch(as.jwksUri)).json()) as JSONWebKeySet);
    const client = newClient({ tokenEndpoint: as.tokenEndpoint, ...demoClients.post, scope: 'orders:read' });

    const jwt = await client.getToken({ resource: API_RESOURCE });
    const opaque = await client.getToken();

    await expect(jwtVerify(jwt.accessToken, jwks, { issuer: as.issuer, audience: 'https://other.example.com' })).rejects.toThrow(/aud/);
    const { payload } = await jwtVerify(jwt.accessToken, jwks, { issuer: as.issuer, audience: API_RESOURCE });
    expect(payload.client_id).toBe(demoClients.post.clientId);
    expect(opaque.accessToken).not.toContain('.');
    expect(() => decodeProtectedHeader(opaque.accessToken)).toThrow();
    expect((await as.introspect(opaque.accessToken)).active).toBe(true);
  });

  it('an unknown resource fails with OAuthError invalid_target', async () => {
    const as = server();
    const client = newClient({ tokenEndpoint: as.tokenEndpoint, ...demoClients.basic, resource: 'https://unknown.example.com' });

    const error = await client.getToken().catch((e: unknown) => e);

    expect(error).toBeInstanceOf(OAuthError);
    expect((error as OAuthError).error).toBe('invalid_target');
  });
});
