import { describe, expect, it } from 'vitest';
import { tokenEndpoint, useMswServer } from '../helpers/msw.js';
import { useClients } from '../helpers/core.js';

const server = useMswServer();
const makeClient = useClients();

describe('token cache', () => {
  it('serves later calls for the same key from the cache', async () => {
    const { handler, seen } = tokenEndpoint();
    server.use(handler);
    const client = makeClient({ scope: 'a b' });
    const first = await client.getToken();
    const second = await client.getToken();
    const third = await client.getToken({ scope: ['a', 'b'] });
    expect(seen).toHaveLength(1);
    expect(second).toBe(first);
    expect(third).toBe(first);
    expect(first.accessToken).toBe('tok-1');
  });

  it('treats scope as a set: ["a","b"] and "b a" share one request and one entry', async () => {
    const { handler, seen } = tokenEndpoint();
    server.use(handler);
    const client = makeClient();
    const [x, y] = await Promise.all([client.getToken({ scope: ['a', 'b'] }), client.getToken({ scope: 'b a' })]);
    expect(seen).toHaveLength(1);
    expect(x.accessToken).toBe(y.accessToken);
    const z = await client.getToken({ scope: ['b', 'a', 'a'] });
    expect(seen).toHaveLength(1);
    expect(z).toBe(x);
  });

  it('keeps distinct entries per scope set', async () => {
    const { handler, seen } = tokenEndpoint();
    server.use(handler);
    const client = makeClient({ scope: 'base' });
    const base = await client.getToken();
    const other = await client.getToken({ scope: 'other' });
    expect(seen).toHaveLength(2);
    expect(seen[1]!.form.get('scope')).toBe('other');
    expect(other.accessToken).not.toBe(base.accessToken);
    expect((await client.getToken()).accessToken).toBe(base.accessToken);
    expect((await client.getToken({ scope: 'other' })).accessToken).toBe(other.accessToken);
    expect(seen).toHaveLength(2);
  });

  it('keeps distinct entries per audience and sends the per-call audience', async () => {
    const { handler, seen } = tokenEndpoint();
    server.use(handler);
    const client = makeClient({ audience: 'https://api-1.example.com' });
    const one = await client.getToken();
    const two = await client.getToken({ audience: 'https://api-2.example.com' });
    expect(seen.map((s) => s.form.get('audience'))).toEqual(['https://api-1.example.com', 'https://api-2.example.com']);
    expect(two.accessToken).not.toBe(one.accessToken);
    expect(await client.getToken({ audience: 'https://api-1.example.com' })).toBe(one);
    expect(await client.getToken({ audience: 'https://api-2.example.com' })).toBe(two);
    expect(seen).toHaveLength(2);
  });

  it('keeps distinct entries per resource set (order does not matter) and sends the per-call resources', async () => {
    const { handler, seen } = tokenEndpoint();
    server.use(handler);
    const client = makeClient();
    const none = await client.getToken();
    const r = await client.getToken({ resource: ['https://r1.example.com', 'https://r2.example.com'] });
    expect(seen).toHaveLength(2);
    expect(seen[1]!.form.getAll('resource')).toEqual(['https://r1.example.com', 'https://r2.example.com']);
    expect(r.accessToken).not.toBe(none.accessToken);
    expect(await client.getToken({ resource: ['https://r2.example.com', 'https://r1.example.com'] })).toBe(r);
    const single = await client.getToken({ resource: 'https://r1.example.com' });
    expect(seen).toHaveLength(3);
    expect(single.accessToken).toBe('tok-3');
  });

  it('forceRefresh requests a new token and caches it', async () => {
    const { handler, seen } = tokenEndpoint();
    server.use(handler);
    const client = makeClient();
    const first = await client.getToken();
    const forced = await client.getToken({ forceRefresh: true });
    expect(seen).toHaveLength(2);
    expect(forced.accessToken).toBe('tok-2');
    expect((await client.getToken()).accessToken).toBe('tok-2');
    expect(first.accessToken).toBe('tok-1');
  });

  it('is bounded by maxCacheEntries: the least recently used entry is evicted, recent ones stay', async () => {
    const { handler, seen } = tokenEndpoint();
    server.use(handler);
    const client = makeClient({ maxCacheEntries: 2 });
    const a = await client.getToken({ scope: 'a' }); // request 1
    const b = await client.getToken({ scope: 'b' }); // request 2
    expect(await client.getToken({ scope: 'a' })).toBe(a); // cached; "a" is now the most recent
    const c = await client.getToken({ scope: 'c' }); // request 3, evicts "b" (least recently used)
    expect(seen).toHaveLength(3);

    expect(await client.getToken({ scope: 'a' })).toBe(a);
    expect(await client.getToken({ scope: 'c' })).toBe(c);
    expect(seen).toHaveLength(3);

    const b2 = await client.getToken({ scope: 'b' }); // evicted: requested again (evicts "a")
    expect(seen).toHaveLength(4);
    expect(seen[3]!.form.get('scope')).toBe('b');
    expect(b2.accessToken).not.toBe(b.accessToken);
    expect(await client.getToken({ scope: 'c' })).toBe(c);
    expect(seen).toHaveLength(4);
  });

  it('never evicts the default entry because of per-call entries', async () => {
    const { handler, seen } = tokenEndpoint();
    server.use(handler);
    const client = makeClient({ scope: 'default', maxCacheEntries: 1 });
    const d = await client.getToken();
    await client.getToken({ scope: 'x' });
    await client.getToken({ scope: 'y' });
    expect(seen).toHaveLength(3);
    expect(await client.getToken()).toBe(d);
    expect(seen).toHaveLength(3);
  });
});
