/**
 * The client with a token store, in one process: sharing through a MemoryTokenStore, what revoke(),
 * close() and a 401 do to the shared entry, and a store that hangs, throws or goes away is bypassed
 * without ever failing getToken(). The token endpoint is msw; Redis (where used) is a real redis-server.
 */
import { http, HttpResponse } from 'msw';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it, onTestFinished, vi } from 'vitest';
import {
  ClientCredentialsClient,
  type ClientEventMap,
  type ClientEventName,
  MemoryTokenStore,
  type StoredToken,
  type TokenStore,
  type TokenStoreLock,
} from '../../src/index.js';
import { RedisTokenStore } from '../../src/redis.js';
import { SECRET, tokenJson, useClients, within } from '../helpers/core.js';
import { handClock } from '../helpers/hand-clock.js';
import { REVOKE_URL, revocationEndpoint, TOKEN_URL, tokenEndpoint, useMswServer } from '../helpers/msw.js';
import { RedisServer } from '../helpers/redis.js';
import { sleep, waitUntil } from '../helpers/time.js';

const server = useMswServer();
const newClient = useClients();

/** A store that delegates to `inner` and records every call. */
class RecordingStore implements TokenStore {
  readonly calls: { op: string; key: string; arg?: unknown }[] = [];
  constructor(
    readonly inner: TokenStore = new MemoryTokenStore(),
    readonly shared = false,
  ) {}
  get key(): string {
    const first = this.calls[0];
    if (first === undefined) throw new Error('the store was never called');
    return first.key;
  }
  get(key: string) {
    this.calls.push({ op: 'get', key });
    return this.inner.get(key);
  }
  set(key: string, token: StoredToken, ttl: number) {
    this.calls.push({ op: 'set', key, arg: token.accessToken });
    return this.inner.set(key, token, ttl);
  }
  delete(key: string, accessToken?: string) {
    this.calls.push({ op: 'delete', key, arg: accessToken });
    return this.inner.delete(key, accessToken);
  }
  lock(key: string, ttl: number): Promise<TokenStoreLock | undefined> {
    this.calls.push({ op: 'lock', key });
    return this.inner.lock!(key, ttl);
  }
}

function events<E extends ClientEventName>(client: ClientCredentialsClient, name: E): ClientEventMap[E][] {
  const seen: ClientEventMap[E][] = [];
  client.on(name, (e) => seen.push(e));
  return seen;
}

describe('clients sharing a MemoryTokenStore', () => {
  it('two clients asking at once share one token request', async () => {
    const endpoint = tokenEndpoint();
    server.use(endpoint.handler);
    const store = new MemoryTokenStore();
    const [a, b] = [newClient({ store }), newClient({ store })];

    const tokens = await within(Promise.all([a.getToken(), b.getToken(), a.getToken(), b.getToken()]), 5000);

    expect(endpoint.seen).toHaveLength(1);
    expect(new Set(tokens.map((t) => t.accessToken))).toEqual(new Set(['tok-1']));
  });

  it('a client created later takes the stored token instead of asking the server', async () => {
    const endpoint = tokenEndpoint();
    server.use(endpoint.handler);
    const store = new MemoryTokenStore();
    await newClient({ store }).getToken();

    const late = newClient({ store });
    expect((await late.getToken()).accessToken).toBe('tok-1');
    expect(endpoint.seen).toHaveLength(1);
  });

  it("clients of different client ids or scopes do not share each other's tokens", async () => {
    const endpoint = tokenEndpoint();
    server.use(endpoint.handler);
    const store = new MemoryTokenStore();
    const a = await newClient({ store }).getToken();
    const b = await newClient({ store, clientId: 'svc-b' }).getToken();
    const c = await newClient({ store, scope: 'other' }).getToken();
    expect(new Set([a.accessToken, b.accessToken, c.accessToken]).size).toBe(3);
    expect(endpoint.seen).toHaveLength(3);
  });

  it("a token taken from the store is reported as a token event with source 'store' and attempts 0", async () => {
    server.use(tokenEndpoint().handler);
    const store = new MemoryTokenStore();
    const a = newClient({ store });
    const b = newClient({ store });
    const aEvents = events(a, 'token');
    const bEvents = events(b, 'token');

    await a.getToken();
    await b.getToken();

    expect(aEvents).toEqual([expect.objectContaining({ source: 'server', attempts: 1 })]);
    expect(bEvents).toEqual([expect.objectContaining({ source: 'store', attempts: 0, background: false })]);
    expect(bEvents[0]!.fingerprint).toBe(aEvents[0]!.fingerprint);
  });

  it('a store without lock() still shares a stored token (each client only asks when the store has none)', async () => {
    const endpoint = tokenEndpoint();
    server.use(endpoint.handler);
    const inner = new MemoryTokenStore();
    const lockless: TokenStore = {
      get: (k) => inner.get(k),
      set: (k, t, ttl) => inner.set(k, t, ttl),
      delete: (k, v) => inner.delete(k, v),
    };
    await newClient({ store: lockless }).getToken();
    expect((await newClient({ store: lockless }).getToken()).accessToken).toBe('tok-1');
    expect(endpoint.seen).toHaveLength(1);
  });
});

describe('revoke() and 401 with a store', () => {
  it('revoke() deletes the shared entry, and the next client gets a fresh token from the server', async () => {
    const endpoint = tokenEndpoint();
    const revocation = revocationEndpoint();
    server.use(endpoint.handler, revocation.handler);
    const store = new RecordingStore();
    const a = newClient({ store, revocationEndpoint: REVOKE_URL });
    const b = newClient({ store, revocationEndpoint: REVOKE_URL });
    await a.getToken();
    expect((await b.getToken()).accessToken).toBe('tok-1');

    await a.revoke();

    expect(revocation.tokens).toEqual(['tok-1']);
    await expect(store.inner.get(store.key)).resolves.toBeUndefined();
    const c = newClient({ store });
    expect((await c.getToken()).accessToken).toBe('tok-2');
    expect((await store.inner.get(store.key))?.accessToken).toBe('tok-2');
  });

  it('revoke() of an old token leaves a newer shared token in place', async () => {
    server.use(tokenEndpoint().handler, revocationEndpoint().handler);
    const store = new RecordingStore();
    const a = newClient({ store, revocationEndpoint: REVOKE_URL });
    const b = newClient({ store });
    await a.getToken();
    expect((await b.getToken()).accessToken).toBe('tok-1');
    await sleep(2); // tok-2 expires strictly later than tok-1
    expect((await b.getToken({ forceRefresh: true })).accessToken).toBe('tok-2');

    await a.revoke();

    expect(store.calls).toContainEqual({ op: 'delete', key: store.key, arg: 'tok-1' });
    expect((await store.inner.get(store.key))?.accessToken).toBe('tok-2');
  });

  for (const [name, slowDelete] of [
    ['a store that deletes at once', false],
    ['a store whose delete lands late', true],
  ] as const) {
    it(`after a 401 in the fetch wrapper the shared entry of the rejected token is deleted and not re-adopted (${name})`, async () => {
      // tok-2 expires before tok-1: the store can only hold tok-2 once tok-1 was deleted from it.
      const endpoint = tokenEndpoint((n) => tokenJson(`tok-${n}`, n === 1 ? 3600 : 1800));
      const seenAuth: string[] = [];
      server.use(
        endpoint.handler,
        http.get('https://api.example.com/data', ({ request }) => {
          const auth = request.headers.get('authorization') ?? '';
          seenAuth.push(auth);
          return auth === 'Bearer tok-1' ? new HttpResponse(null, { status: 401 }) : HttpResponse.json({ ok: true });
        }),
      );
      const memory = new MemoryTokenStore();
      const inner: TokenStore = slowDelete
        ? {
            get: (k) => memory.get(k),
            set: (k, t, ttl) => memory.set(k, t, ttl),
            lock: (k, ttl) => memory.lock(k, ttl),
            delete: async (k, v) => {
              await sleep(50);
              await memory.delete(k, v);
            },
          }
        : memory;
      const store = new RecordingStore(inner);
      const client = newClient({ store });

      const response = await client.fetch('https://api.example.com/data');

      expect(response.status).toBe(200);
      expect(seenAuth).toEqual(['Bearer tok-1', 'Bearer tok-2']);
      expect(endpoint.seen).toHaveLength(2); // tok-1 was not taken back from the store
      expect(store.calls).toContainEqual({ op: 'delete', key: store.key, arg: 'tok-1' });
      await within(
        waitUntil(async () => (await memory.get(store.key))?.accessToken !== 'tok-1', {
          what: 'the rejected token to be gone from the store',
          interval: 50,
        }),
        3000,
      );
      // Another client sharing the store is never handed the rejected token.
      expect((await newClient({ store: memory }).getToken()).accessToken).not.toBe('tok-1');
    });
  }
});

describe('a failing store is bypassed, never a reason to fail', () => {
  function countingStore(behaviour: () => Promise<never>): TokenStore & { count: number } {
    const store = {
      count: 0,
      get: () => (store.count++, behaviour()),
      set: () => (store.count++, behaviour()),
      delete: () => (store.count++, behaviour()),
      lock: () => (store.count++, behaviour()),
    };
    return store;
  }

  it("a store whose calls never answer is given up on (~1 s): getToken succeeds and an error event with operation 'store' is emitted", async () => {
    const endpoint = tokenEndpoint();
    server.use(endpoint.handler);
    const store = countingStore(() => new Promise<never>(() => {}));
    const client = newClient({ store });
    const errors = events(client, 'error');

    const token = await within(client.getToken(), 5000);

    expect(token.accessToken).toBe('tok-1');
    expect(errors).toHaveLength(1);
    expect(errors[0]).toMatchObject({ operation: 'store', background: true });
    expect(errors[0]!.error.code).toBe('NETWORK');
    expect(errors[0]!.error.message).toContain('no answer within 1000 ms');
    expect(errors[0]!.error.message).toContain('bypassed for 10000 ms');
    expect(errors[0]!.error.message).not.toContain(SECRET);

    // Bypassed now: the next request does not wait for the store again, nor touch it.
    const calls = store.count;
    expect((await within(client.getToken({ forceRefresh: true }), 900)).accessToken).toBe('tok-2');
    expect(store.count).toBe(calls);
    expect(errors).toHaveLength(1);
  });

  for (const [name, behaviour] of [
    ['rejects', () => Promise.reject(new Error("READONLY You can't write against a read only replica."))],
    [
      'throws synchronously',
      () => {
        throw new Error('connection is closed');
      },
    ],
  ] as const) {
    it(`a store that ${name} is bypassed: getToken succeeds and one error event with operation 'store' is emitted`, async () => {
      const endpoint = tokenEndpoint();
      server.use(endpoint.handler);
      const store = countingStore(behaviour as () => Promise<never>);
      const client = newClient({ store });
      const errors = events(client, 'error');
      const tokenEvents = events(client, 'token');

      expect((await within(client.getToken(), 3000)).accessToken).toBe('tok-1');
      expect((await client.getToken({ forceRefresh: true })).accessToken).toBe('tok-2');

      expect(errors.map((e) => e.operation)).toEqual(['store']);
      expect(errors[0]!.error.cause).toBeInstanceOf(Error);
      expect(store.count).toBe(1);
      expect(tokenEvents.map((e) => e.source)).toEqual(['server', 'server']);
    });
  }
});

describe('with a RedisTokenStore on a real redis-server', () => {
  let redisServer: RedisServer | undefined;
  let redis: Redis | undefined;
  beforeAll(async () => {
    redisServer = await RedisServer.start();
    redis = new Redis({ host: '127.0.0.1', port: redisServer.port, lazyConnect: true });
    redis.on('error', () => {});
    await redis.connect();
  });
  afterAll(async () => {
    vi.useRealTimers();
    redis?.disconnect();
    await redisServer?.stop();
  });

  const tokenKeys = async (prefix: string) => redis!.keys(`${prefix}*:token`);

  it('close({ revoke: true }) leaves shared tokens alone: skipped 1, no revocation request, entry kept', async () => {
    const revocation = revocationEndpoint();
    server.use(tokenEndpoint().handler, revocation.handler);
    const prefix = `close-skip-${Date.now()}:`;
    const client = newClient({ store: new RedisTokenStore({ client: redis!, prefix }), revocationEndpoint: REVOKE_URL });
    await client.getToken();

    await expect(client.close({ revoke: true })).resolves.toEqual({ revoked: 0, errors: [], skipped: 1 });

    expect(revocation.tokens).toEqual([]);
    expect(await tokenKeys(prefix)).toHaveLength(1);
  });

  it('close({ revoke: true, revokeShared: true }) revokes the shared token and deletes it from Redis', async () => {
    const revocation = revocationEndpoint();
    server.use(tokenEndpoint().handler, revocation.handler);
    const prefix = `close-shared-${Date.now()}:`;
    const store = new RedisTokenStore({ client: redis!, prefix });
    const client = newClient({ store, revocationEndpoint: REVOKE_URL });
    await client.getToken();
    expect(await tokenKeys(prefix)).toHaveLength(1);

    await expect(client.close({ revoke: true, revokeShared: true })).resolves.toEqual({ revoked: 1, errors: [], skipped: 0 });

    expect(revocation.tokens).toEqual(['tok-1']);
    expect(await tokenKeys(prefix)).toEqual([]);
  });

  it('close({ revoke: true }) with a non-shared MemoryTokenStore revokes as without a store', async () => {
    const revocation = revocationEndpoint();
    server.use(tokenEndpoint().handler, revocation.handler);
    const client = newClient({ store: new MemoryTokenStore(), revocationEndpoint: REVOKE_URL });
    await client.getToken();
    await expect(client.close({ revoke: true })).resolves.toEqual({ revoked: 1, errors: [], skipped: 0 });
    expect(revocation.tokens).toEqual(['tok-1']);
  });

  it('with Redis down, getToken still succeeds (store bypassed); once Redis is back and the 10 s bypass is over, the client shares again', async () => {
    const endpoint = tokenEndpoint();
    server.use(endpoint.handler);
    const prefix = `outage-${Date.now()}:`;
    const store = new RedisTokenStore({ client: redis!, prefix });
    // The bypass window is on the client's monotonic clock: moved by hand here (ioredis and msw run on real time).
    const clock = handClock();
    const client = new ClientCredentialsClient(
      { tokenEndpoint: TOKEN_URL, clientId: 'svc-a', clientSecret: SECRET, retry: false, store },
      clock,
    );
    onTestFinished(() => client.close().then(() => undefined));
    const errors = events(client, 'error');

    await redisServer!.stop();
    expect((await within(client.getToken(), 5000)).accessToken).toBe('tok-1');
    expect(errors.map((e) => e.operation)).toEqual(['store']);

    await redisServer!.restart();
    await within(
      waitUntil(async () => (await redis!.ping()) === 'PONG', { what: 'ioredis to reconnect', timeout: 8000, interval: 50 }),
      9000,
    );

    // Still inside the bypass: the new token is not written to Redis.
    expect((await client.getToken({ forceRefresh: true })).accessToken).toBe('tok-2');
    expect(await tokenKeys(prefix)).toEqual([]);

    // 10 s later, the store is used again.
    clock.advance(10_001);
    expect((await client.getToken({ forceRefresh: true })).accessToken).toBe('tok-3');
    expect(await tokenKeys(prefix)).toHaveLength(1);
    const other = newClient({ store });
    expect((await other.getToken()).accessToken).toBe('tok-3');
    expect(endpoint.seen).toHaveLength(3);
  });
});
