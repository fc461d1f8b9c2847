/**
 * The response schemas: none is built when the module loads; each on first use, the token response's
 * before the first token request is sent (so that nothing slow stands between a token response and its
 * expiry check). The same for the Redis store's stored-entry schema.
 */
import { afterEach, describe, expect, it, vi } from 'vitest';

// Counts the object schemas zod builds, to see when schemas.ts builds which.
const built = vi.hoisted(() => ({ objects: 0 }));
vi.mock('zod/mini', async (importOriginal) => {
  const z = await importOriginal<typeof import('zod/mini')>();
  return {
    ...z,
    object: (...args: Parameters<typeof z.object>) => {
      built.objects++;
      return z.object(...args);
    },
  };
});

/** schemas.ts loaded anew, as a process's first import does. */
async function freshSchemas() {
  vi.resetModules();
  built.objects = 0;
  return (await import('../../src/protocol/schemas.js')).schemas;
}

afterEach(() => {
  vi.resetModules();
});

describe('response schemas', () => {
  it('builds no schema when the module loads', async () => {
    await freshSchemas();
    expect(built.objects).toBe(0);
  });

  it.each(['TokenResponse', 'ErrorResponse', 'Metadata', 'ResourceMetadata'] as const)('builds %s once, on first use', async (name) => {
    const schemas = await freshSchemas();
    const first = schemas[name];
    expect(built.objects).toBe(1);
    expect(schemas[name]).toBe(first);
    expect(built.objects).toBe(1);
  });

  it('the first token request builds the token response schema before it is sent', async () => {
    await freshSchemas();
    const { ClientCredentialsClient } = await import('../../src/index.js');
    const objectsWhenSent: number[] = [];
    const client = new ClientCredentialsClient({
      tokenEndpoint: 'https://as.example/token',
      clientId: 'svc',
      clientSecret: 'secret',
      fetch: async () => {
        objectsWhenSent.push(built.objects);
        return Response.json({ access_token: 'tok-1', token_type: 'Bearer', expires_in: 60 });
      },
    });
    expect(built.objects).toBe(0);
    expect((await client.getToken()).accessToken).toBe('tok-1');
    expect(objectsWhenSent).toEqual([1]);
    await client.close();
  });

  it('a successful token response is checked without building the error response schema (nothing slow before its expiry check)', async () => {
    await freshSchemas();
    const { buildTokenSchemas } = await import('../../src/protocol/schemas.js');
    const { processTokenResponse } = await import('../../src/protocol/token-response.js');
    const result = {
      status: 200,
      headers: new Headers(),
      text: JSON.stringify({ access_token: 'tok-1', token_type: 'Bearer', expires_in: 60 }),
    };
    buildTokenSchemas();
    expect(built.objects).toBe(1);
    const token = processTokenResponse(result, { sentAt: Date.now(), defaultLifetime: 3_600_000, requestedScope: undefined });
    expect(token.accessToken).toBe('tok-1');
    expect(built.objects).toBe(1);
    const refused = { ...result, text: JSON.stringify({ error: 'invalid_scope' }) };
    expect(() => processTokenResponse(refused, { sentAt: Date.now(), defaultLifetime: 3_600_000, requestedScope: undefined })).toThrow(
      'invalid_scope',
    );
    expect(built.objects).toBe(2);
  });

  it('m2m-token/redis builds its stored-entry schema on the first read, not at import', async () => {
    vi.resetModules();
    built.objects = 0;
    const { RedisTokenStore } = await import('../../src/redis.js');
    expect(built.objects).toBe(0);
    const entry = { accessToken: 'tok-1', tokenType: 'Bearer', expiresAt: 2, sentAt: 1, extra: {} };
    const store = new RedisTokenStore({ client: { eval: async () => 1, hget: async () => JSON.stringify(entry) } });
    expect(await store.get('k')).toEqual(entry);
    expect(built.objects).toBe(1);
    expect(await store.get('k')).toEqual(entry);
    expect(built.objects).toBe(1);
  });

  it('parses with the schemas built on first use', async () => {
    const schemas = await freshSchemas();
    expect(schemas.Metadata.safeParse({ issuer: 'https://as.example' }).success).toBe(true);
    expect(schemas.Metadata.safeParse({ issuer: '' }).success).toBe(false);
    expect(schemas.ResourceMetadata.safeParse({ resource: 'https://api.example', authorization_servers: [''] }).success).toBe(false);
    expect(schemas.ErrorResponse.safeParse({ error: 'invalid_client' }).success).toBe(true);
  });
});
