import { createHash } from 'node:crypto';
import { EmbeddedJWK, jwtVerify } from 'jose';
import { HttpResponse } from 'msw';
import { describe, expect, it } from 'vitest';
import { MemoryTokenStore } from '../../src/index.js';
import { rejectionOf, useClients } from '../helpers/core.js';
import { tokenEndpoint, useMswServer } from '../helpers/msw.js';
import { API, RESOURCE_CLIENT, resourceEndpoint } from '../helpers/resource.js';

const server = useMswServer();
const newClient = useClients(RESOURCE_CLIENT);
const ORDERS = `${API}/orders`;

const ath = (token: string) => createHash('sha256').update(token).digest('base64url');

describe('getRequestHeaders()', () => {
  it('returns the authorization header of the cached token, for any HTTP client', async () => {
    const tokens = tokenEndpoint();
    server.use(tokens.handler);
    const client = newClient();

    expect(await client.getRequestHeaders(ORDERS)).toEqual({ authorization: 'Bearer tok-1' });
    expect(await client.getRequestHeaders(new URL(ORDERS), { method: 'POST' })).toEqual({ authorization: 'Bearer tok-1' });
    expect(tokens.seen).toHaveLength(1);
  });

  it('takes the per-call options of getToken (scope: another token)', async () => {
    const tokens = tokenEndpoint();
    server.use(tokens.handler);
    const client = newClient();

    const headers = await client.getRequestHeaders(ORDERS, { scope: 'orders:write' });

    expect(headers).toEqual({ authorization: 'Bearer tok-1' });
    expect(tokens.seen[0]!.form.get('scope')).toBe('orders:write');
  });

  it('adds a DPoP proof for this method and URL, bound to the token (ath), with the origin’s remembered nonce', async () => {
    server.use(tokenEndpoint(() => HttpResponse.json({ access_token: 'dp-1', token_type: 'DPoP', expires_in: 3600 })).handler);
    server.use(resourceEndpoint(`${API}/nonce`, () => new HttpResponse('ok', { headers: { 'dpop-nonce': 'n-42' } })).handler);
    const client = newClient({ dpop: true });
    await (await client.fetch(`${API}/nonce`)).text();

    const headers = await client.getRequestHeaders(`${ORDERS}?page=2`, { method: 'post' });

    expect(headers.authorization).toBe('DPoP dp-1');
    const { payload } = await jwtVerify(headers.dpop!, EmbeddedJWK, { typ: 'dpop+jwt' });
    expect(payload).toMatchObject({ htm: 'POST', htu: ORDERS, ath: ath('dp-1'), nonce: 'n-42' });
  });

  it('rejects with a TypeError for a URL that is not absolute, or a method that is not a string', async () => {
    server.use(tokenEndpoint().handler);
    const client = newClient();

    expect(await rejectionOf(client.getRequestHeaders('/orders'))).toBeInstanceOf(TypeError);
    expect(await rejectionOf(client.getRequestHeaders(ORDERS, { method: 7 as never }))).toBeInstanceOf(TypeError);
  });
});

describe('invalidate()', () => {
  it.each([
    ['the Authorization header value', (h: string) => h],
    ['the access token', (h: string) => h.slice('Bearer '.length)],
    ['a lower-case scheme', (h: string) => `bearer ${h.slice('Bearer '.length)}`],
  ])('drops the current token given %s: the next call gets a new one', async (_, form) => {
    const tokens = tokenEndpoint();
    server.use(tokens.handler);
    const client = newClient();
    const { authorization } = await client.getRequestHeaders(ORDERS);

    expect(client.invalidate(form(authorization!))).toBe(true);

    expect(await client.getRequestHeaders(ORDERS)).toEqual({ authorization: 'Bearer tok-2' });
  });

  it('drops the current token given the Token object', async () => {
    server.use(tokenEndpoint().handler);
    const client = newClient();

    client.invalidate(await client.getToken());

    expect((await client.getToken()).accessToken).toBe('tok-2');
  });

  it('is a no-op for a token already replaced', async () => {
    const tokens = tokenEndpoint();
    server.use(tokens.handler);
    const client = newClient();
    const old = await client.getToken();
    client.invalidate(old);
    await client.getToken();

    expect(client.invalidate(old)).toBe(true);

    expect((await client.getToken()).accessToken).toBe('tok-2');
    expect(tokens.seen).toHaveLength(2);
  });

  it('50 concurrent 401s for one stale token cause one token request (get headers → 401 → invalidate → send once more)', async () => {
    const tokens = tokenEndpoint();
    server.use(tokens.handler);
    const client = newClient();
    await client.getToken();
    const send = (authorization: string) => (authorization === 'Bearer tok-1' ? 401 : 200);

    const statuses = await Promise.all(
      Array.from({ length: 50 }, async () => {
        const first = await client.getRequestHeaders(ORDERS);
        if (send(first.authorization!) !== 401) return 200;
        await Promise.resolve(); // the 401s arrive interleaved
        if (!client.invalidate(first.authorization!)) return 401;
        return send((await client.getRequestHeaders(ORDERS)).authorization!);
      }),
    );

    expect(statuses).toEqual(Array(50).fill(200));
    expect(tokens.seen).toHaveLength(2);
  });

  it('returns false when the replacement of a refused token is refused too (refusals paused)', async () => {
    server.use(tokenEndpoint().handler);
    const client = newClient();
    client.invalidate(await client.getToken());

    expect(client.invalidate(await client.getToken())).toBe(false);
    expect((await client.getToken()).accessToken).toBe('tok-2');
  });

  it('also deletes the dropped token from the shared store', async () => {
    server.use(tokenEndpoint().handler);
    const store = new MemoryTokenStore();
    const client = newClient({ store });
    const token = await client.getToken();
    const deleted: string[] = [];
    const original = store.delete.bind(store);
    store.delete = async (key, value) => {
      deleted.push(value ?? '');
      return original(key, value);
    };

    client.invalidate(token);
    await Promise.resolve();

    expect(deleted).toEqual(['tok-1']);
  });

  it('throws a TypeError for something that is not a token', () => {
    const client = newClient();
    expect(() => client.invalidate('' as never)).toThrow(TypeError);
    expect(() => client.invalidate(42 as never)).toThrow(TypeError);
  });
});
