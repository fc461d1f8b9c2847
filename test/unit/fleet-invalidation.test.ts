/**
 * Fleet-wide invalidation in one process: clients sharing a MemoryTokenStore drop a token another client
 * found refused (`invalidate()`, a 401) or revoked, through `TokenStore.onInvalidate`, with the same
 * compare-and-invalidate (and refusal pause) as a refusal of their own, and publish nothing in turn.
 * Across processes (Redis pub/sub): test/store/fleet.test.ts; a client garbage-collected without close():
 * test/store/invalidation-gc.test.ts.
 */
import { http, HttpResponse } from 'msw';
import { describe, expect, it } from 'vitest';
import {
  type InvalidationListener,
  MemoryTokenStore,
  type StoredToken,
  type TokenStore,
  type TokenStoreLock,
  tokenFingerprint,
} from '../../src/index.js';
import { settleIo, useClients } from '../helpers/core.js';
import { REVOKE_URL, revocationEndpoint, tokenEndpoint, useMswServer } from '../helpers/msw.js';

const server = useMswServer();
const newClient = useClients();

/** A MemoryTokenStore that records deletes and counts the invalidation listeners subscribed. */
class CountingStore implements TokenStore {
  readonly inner = new MemoryTokenStore();
  readonly deletes: (string | undefined)[] = [];
  /** The keys asked for, in order. */
  readonly keys: string[] = [];
  listeners = 0;
  get(key: string) {
    this.keys.push(key);
    return this.inner.get(key);
  }
  set(key: string, token: StoredToken, ttl: number) {
    return this.inner.set(key, token, ttl);
  }
  delete(key: string, accessToken?: string) {
    this.deletes.push(accessToken);
    return this.inner.delete(key, accessToken);
  }
  lock(key: string, ttl: number): Promise<TokenStoreLock | undefined> {
    return this.inner.lock(key, ttl);
  }
  onInvalidate(listener: InvalidationListener): () => void {
    this.listeners++;
    const off = this.inner.onInvalidate(listener);
    return () => {
      this.listeners--;
      off();
    };
  }
}

/** Two clients sharing `store`, both holding the first token (`tok-1`, one token request). */
async function twoClients(store: TokenStore, options: Record<string, unknown> = {}) {
  const endpoint = tokenEndpoint();
  server.use(endpoint.handler, revocationEndpoint().handler);
  const [a, b] = [newClient({ store, ...options }), newClient({ store, ...options })];
  expect((await a.getToken()).accessToken).toBe('tok-1');
  expect((await b.getToken()).accessToken).toBe('tok-1');
  expect(endpoint.seen).toHaveLength(1);
  return { a, b, endpoint };
}

describe('clients sharing a store follow its invalidations', () => {
  it('a token client A found refused (invalidate) is dropped by client B: B’s next getToken() gets a new token, and B deletes nothing', async () => {
    const store = new CountingStore();
    const { a, b, endpoint } = await twoClients(store);

    expect(a.invalidate('tok-1')).toBe(true);
    await settleIo();

    expect((await b.getToken()).accessToken).toBe('tok-2');
    expect((await a.getToken()).accessToken).toBe('tok-2'); // from the store
    expect(endpoint.seen).toHaveLength(2);
    // Only A's own delete: B dropped the token without deleting (so without publishing) again.
    expect(store.deletes).toEqual(['tok-1']);
  });

  it('a 401 in client A’s fetch wrapper makes client B drop the token too', async () => {
    const store = new MemoryTokenStore();
    const { a, b } = await twoClients(store);
    server.use(
      http.get('https://api.example.com/data', ({ request }) =>
        request.headers.get('authorization') === 'Bearer tok-1' ? new HttpResponse(null, { status: 401 }) : HttpResponse.json({}),
      ),
    );

    expect((await a.fetch('https://api.example.com/data')).status).toBe(200);
    await settleIo();

    expect((await b.getToken()).accessToken).toBe('tok-2');
  });

  it('an invalidation of an older token changes nothing for a client that already has a newer one', async () => {
    const store = new CountingStore();
    const { a, b, endpoint } = await twoClients(store);
    expect((await b.getToken({ forceRefresh: true })).accessToken).toBe('tok-2');

    expect(a.invalidate('tok-1')).toBe(true); // A still held tok-1
    await settleIo();

    expect((await b.getToken()).accessToken).toBe('tok-2');
    expect((await a.getToken()).accessToken).toBe('tok-2');
    expect(endpoint.seen).toHaveLength(2);
    expect(store.deletes).toEqual(['tok-1']);
  });

  it('a message with the right fingerprint for another key, or the wrong fingerprint for the right key, changes nothing', async () => {
    const store = new CountingStore();
    const { b, endpoint } = await twoClients(store);
    const key = store.keys[0]!;

    await store.delete('some-other-key', 'tok-1');
    await store.delete(key, 'tok-1x');
    await settleIo();

    expect((await b.getToken()).accessToken).toBe('tok-1');
    expect(endpoint.seen).toHaveLength(1);
    // Then the right one, for contrast.
    await store.delete(key, 'tok-1');
    await settleIo();
    expect((await b.getToken()).accessToken).toBe('tok-2');
  });

  it('revoke() on client A makes client B drop the revoked token', async () => {
    const store = new MemoryTokenStore();
    const { a, b } = await twoClients(store, { revocationEndpoint: REVOKE_URL });

    await a.revoke();
    await settleIo();

    expect((await b.getToken()).accessToken).toBe('tok-2');
  });

  it('the refusal pause holds across clients: the replacement of a token refused elsewhere, refused again, is kept (no loop)', async () => {
    const store = new CountingStore();
    const { a, b, endpoint } = await twoClients(store);
    a.invalidate('tok-1');
    await settleIo();
    expect((await b.getToken()).accessToken).toBe('tok-2');
    expect((await a.getToken()).accessToken).toBe('tok-2');

    // tok-2 replaced a refused token in both clients: refusing it now pauses refusals instead of fetching.
    expect(a.invalidate('tok-2')).toBe(false);
    expect(b.invalidate('tok-2')).toBe(false);
    await settleIo();

    expect((await b.getToken()).accessToken).toBe('tok-2');
    expect(endpoint.seen).toHaveLength(2);
    expect(store.deletes).toEqual(['tok-1']);
  });

  it('a token revoked elsewhere is dropped even while refusals of it are paused here', async () => {
    const store = new CountingStore();
    const { a, b } = await twoClients(store, { revocationEndpoint: REVOKE_URL });
    a.invalidate('tok-1');
    await settleIo();
    expect((await b.getToken()).accessToken).toBe('tok-2');
    expect((await a.getToken()).accessToken).toBe('tok-2');
    // tok-2 replaced a refused token: b's refusals of it are now paused, b keeps handing it out.
    expect(b.invalidate('tok-2')).toBe(false);
    expect((await b.getToken()).accessToken).toBe('tok-2');

    await a.revoke('tok-2');
    await settleIo();

    expect((await b.getToken()).accessToken).not.toBe('tok-2');
  });

  it('each client subscribes once at construction and unsubscribes on close; a closed client is no longer told', async () => {
    const store = new CountingStore();
    const { a, b } = await twoClients(store);
    expect(store.listeners).toBe(2);

    await a.close();
    expect(store.listeners).toBe(1);
    await b.close();
    await b.close();
    expect(store.listeners).toBe(0);
  });

  it('a store whose onInvalidate throws: the client reports a store error and works without it', async () => {
    server.use(tokenEndpoint().handler);
    const memory = new MemoryTokenStore();
    const logged: { fields: object; message: string }[] = [];
    const record = (fields: object, message: string) => void logged.push({ fields, message });
    const store: TokenStore = {
      get: (k) => memory.get(k),
      set: (k, t, ttl) => memory.set(k, t, ttl),
      delete: (k, v) => memory.delete(k, v),
      onInvalidate: () => {
        throw new Error('no pub/sub today');
      },
    };
    const client = newClient({ store, logger: { warn: record, error: record } });
    // Listened to right after construction: the failure is reported after the constructor returned.
    const events: unknown[] = [];
    client.on('error', (event) => events.push(event));

    expect((await client.getToken()).accessToken).toBe('tok-1');
    expect(events).toMatchObject([{ operation: 'store', error: { code: 'NETWORK' } }]);
    expect(client.invalidate('tok-1')).toBe(true);
    expect(JSON.stringify(logged)).toContain('no pub/sub today');
    expect(logged.some(({ fields }) => (fields as { operation?: string }).operation === 'store')).toBe(true);
    await client.close();
  });

  it('a store whose unsubscribe function throws: close() still resolves', async () => {
    server.use(tokenEndpoint().handler);
    const memory = new MemoryTokenStore();
    const store: TokenStore = {
      get: (k) => memory.get(k),
      set: (k, t, ttl) => memory.set(k, t, ttl),
      delete: (k, v) => memory.delete(k, v),
      onInvalidate: () => () => {
        throw new Error('already gone');
      },
    };
    const client = newClient({ store });
    await client.getToken();
    await expect(client.close()).resolves.toMatchObject({ revoked: 0 });
  });

  it('a store that tells with unexpected values does not disturb the client', async () => {
    let tell: InvalidationListener | undefined;
    const memory = new MemoryTokenStore();
    const store: TokenStore = {
      get: (k) => memory.get(k),
      set: (k, t, ttl) => memory.set(k, t, ttl),
      delete: (k, v) => memory.delete(k, v),
      onInvalidate: (listener) => {
        tell = listener;
        return () => {};
      },
    };
    server.use(tokenEndpoint().handler);
    const client = newClient({ store });
    await client.getToken();

    for (const [key, fp] of [
      [undefined, undefined],
      [{}, 1],
      ['', ''],
      ['x', tokenFingerprint('tok-1')],
    ]) {
      expect(() => tell!(key as string, fp as string)).not.toThrow();
    }
    expect((await client.getToken()).accessToken).toBe('tok-1');
  });
});
