/**
 * The TokenStore contract, one suite run against every store: MemoryTokenStore, RedisTokenStore on a
 * real redis-server (plain and encrypted), and RedisTokenStore on a real 3-node Redis Cluster (where
 * the two-key Lua scripts only work if a token, its lock and its fencing counter share a slot).
 * Expiry runs on real time (tens of ms): no fake timers. Invalidations (`onInvalidate`) are checked
 * between two store objects on one backend: one MemoryTokenStore given to two clients, two
 * RedisTokenStores (each with its own subscriber connection) on one Redis.
 */
import { randomBytes } from 'node:crypto';
import { Cluster, Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { MemoryTokenStore, type StoredToken, type TokenStore, tokenFingerprint } from '../../src/index.js';
import { RedisTokenStore } from '../../src/redis.js';
import { RedisCluster, RedisServer } from '../helpers/redis.js';
import { sleep, waitUntil } from '../helpers/time.js';

/** A cache key shaped like the client's (base64url SHA-256), unique per call. */
const newKey = () => randomBytes(32).toString('base64url');

function token(accessToken: string, expiresIn = 3_600_000, more: Partial<StoredToken> = {}): StoredToken {
  const now = Date.now();
  return { accessToken, tokenType: 'Bearer', expiresAt: now + expiresIn, sentAt: now - 5, extra: {}, ...more };
}

/** What invalidation listeners were told, in order. */
function recorder() {
  const told: { key: string; fingerprint: string }[] = [];
  return { told, listener: (key: string, fingerprint: string) => void told.push({ key, fingerprint }) };
}

/**
 * Waits (bounded) until `listener`, subscribed on `peer`, hears deletes made on `store`: subscribing may
 * take a round trip (Redis SUBSCRIBE), and a delete published before it would be missed (at most once).
 */
async function untilSubscribed(store: TokenStore, told: { key: string }[]): Promise<void> {
  const probe = newKey();
  await waitUntil(
    async () => {
      await store.delete(probe, 'at-probe');
      await sleep(10);
      return told.some((t) => t.key === probe);
    },
    { what: 'the invalidation subscription to be active', interval: 10 },
  );
  told.length = 0;
}

/**
 * The behaviour every TokenStore must have; `makeStore` gives a fresh, empty store for each test, and
 * `makePeers` two store objects on one backend (one object twice for a store shared by reference).
 */
function tokenStoreContract(
  name: string,
  makeStore: () => TokenStore | Promise<TokenStore>,
  makePeers: () => [TokenStore, TokenStore] | Promise<[TokenStore, TokenStore]>,
): void {
  describe(`TokenStore contract: ${name}`, () => {
    it('delete(key, accessToken) on one store object tells a listener on another: the key and the token’s fingerprint, never the token', async () => {
      const [store, peer] = await makePeers();
      const { told, listener } = recorder();
      const unsubscribe = peer.onInvalidate!(listener);
      try {
        await untilSubscribed(store, told);
        const key = newKey();
        await store.set(key, token('at-refused'), 60_000);
        await store.delete(key, 'at-refused');
        await waitUntil(() => told.length > 0, { what: 'the invalidation to be told' });
        expect(told).toEqual([{ key, fingerprint: tokenFingerprint('at-refused') }]);
        expect(tokenFingerprint('at-refused')).toMatch(/^[A-Za-z0-9_-]{43}$/);
        await expect(peer.get(key)).resolves.toBeUndefined();
      } finally {
        unsubscribe();
      }
    });

    it('a delete with a token no longer stored still tells (a refusal is news), and leaves the newer token; a delete without a token tells nothing', async () => {
      const [store, peer] = await makePeers();
      const { told, listener } = recorder();
      const unsubscribe = peer.onInvalidate!(listener);
      try {
        await untilSubscribed(store, told);
        const [key, other] = [newKey(), newKey()];
        await store.set(key, token('at-newer'), 60_000);
        await store.delete(key);
        await store.set(key, token('at-newer'), 60_000);
        await store.delete(key, 'at-older');
        await store.delete(other, 'at-never-stored');
        await waitUntil(() => told.length >= 2, { what: 'two invalidations to be told' });
        // In order, and nothing for the delete without a token (told first, it would come first).
        expect(told).toEqual([
          { key, fingerprint: tokenFingerprint('at-older') },
          { key: other, fingerprint: tokenFingerprint('at-never-stored') },
        ]);
        expect((await peer.get(key))?.accessToken).toBe('at-newer');
      } finally {
        unsubscribe();
      }
    });

    it('a removed listener is no longer told, the others still are; a listener that throws stops neither them nor the store', async () => {
      const [store, peer] = await makePeers();
      const kept = recorder();
      const removed = recorder();
      const stopKept = peer.onInvalidate!(kept.listener);
      const stopThrowing = peer.onInvalidate!(() => {
        throw new Error('listener failure');
      });
      const stopRemoved = peer.onInvalidate!(removed.listener);
      try {
        await untilSubscribed(store, kept.told);
        stopRemoved();
        removed.told.length = 0;
        const key = newKey();
        await store.delete(key, 'at-1');
        await store.delete(key, 'at-2');
        await waitUntil(() => kept.told.length >= 2, { what: 'both invalidations to be told' });
        expect(kept.told.map((t) => t.fingerprint)).toEqual([tokenFingerprint('at-1'), tokenFingerprint('at-2')]);
        expect(removed.told).toEqual([]);
        await store.set(key, token('at-after'), 60_000);
        expect((await peer.get(key))?.accessToken).toBe('at-after');
      } finally {
        stopKept();
        stopThrowing();
      }
    });

    it('a listener added after the last one was removed is told (the store subscribes again), the removed one is not', async () => {
      const [store, peer] = await makePeers();
      const first = recorder();
      const stopFirst = peer.onInvalidate!(first.listener);
      await untilSubscribed(store, first.told);
      stopFirst();
      const second = recorder();
      const unsubscribe = peer.onInvalidate!(second.listener);
      try {
        await untilSubscribed(store, second.told);
        first.told.length = 0;
        const key = newKey();
        await store.delete(key, 'at-x');
        await waitUntil(() => second.told.length > 0, { what: 'the invalidation to be told' });
        expect(second.told).toEqual([{ key, fingerprint: tokenFingerprint('at-x') }]);
        expect(first.told).toEqual([]);
      } finally {
        unsubscribe();
      }
    });

    it('get of a key never set resolves undefined', async () => {
      const store = await makeStore();
      await expect(store.get(newKey())).resolves.toBeUndefined();
    });

    it('set then get round-trips every field: accessToken, tokenType, expiresAt, sentAt, scope, extra', async () => {
      const store = await makeStore();
      const key = newKey();
      const stored = token('at-roundtrip', 60_000, {
        tokenType: 'DPoP',
        scope: 'orders:read orders:write',
        extra: { issued_token_type: 'urn:ietf:params:oauth:token-type:access_token', nested: { n: 1, list: [true, null, 'x'] } },
      });
      await store.set(key, stored, 60_000);
      const got = await store.get(key);
      expect(got).toEqual(stored);
      expect(got!.accessToken).toBe('at-roundtrip');
      expect(got!.expiresAt).toBe(stored.expiresAt);
      expect(got!.sentAt).toBe(stored.sentAt);
    });

    it('a token without scope comes back without scope', async () => {
      const store = await makeStore();
      const key = newKey();
      await store.set(key, token('at-no-scope'), 60_000);
      const got = await store.get(key);
      expect(got?.accessToken).toBe('at-no-scope');
      expect(got?.scope).toBeUndefined();
    });

    it('keys are independent: a token under one key is not visible under another', async () => {
      const store = await makeStore();
      const [a, b] = [newKey(), newKey()];
      await store.set(a, token('at-a'), 60_000);
      await expect(store.get(b)).resolves.toBeUndefined();
      await store.set(b, token('at-b'), 60_000);
      expect((await store.get(a))?.accessToken).toBe('at-a');
      expect((await store.get(b))?.accessToken).toBe('at-b');
    });

    it('a token is gone once its ttl has passed', async () => {
      const store = await makeStore();
      const key = newKey();
      await store.set(key, token('at-short'), 60);
      expect((await store.get(key))?.accessToken).toBe('at-short');
      await sleep(150);
      await expect(store.get(key)).resolves.toBeUndefined();
    });

    it('set never replaces a token that expires later', async () => {
      const store = await makeStore();
      const key = newKey();
      const later = token('at-later', 120_000);
      await store.set(key, later, 60_000);
      await store.set(key, token('at-earlier', 60_000), 60_000);
      expect((await store.get(key))?.accessToken).toBe('at-later');
    });

    it('set replaces a token that expires earlier', async () => {
      const store = await makeStore();
      const key = newKey();
      await store.set(key, token('at-old', 60_000), 60_000);
      await store.set(key, token('at-new', 120_000), 60_000);
      const got = await store.get(key);
      expect(got?.accessToken).toBe('at-new');
    });

    it('a refused set (older token) does not shorten the stored token’s ttl', async () => {
      const store = await makeStore();
      const key = newKey();
      await store.set(key, token('at-keep', 120_000), 60_000);
      await store.set(key, token('at-stale', 60_000), 40);
      await sleep(120);
      expect((await store.get(key))?.accessToken).toBe('at-keep');
    });

    it('delete(key, accessToken) deletes only while the stored token is still that one', async () => {
      const store = await makeStore();
      const key = newKey();
      await store.set(key, token('at-current'), 60_000);
      await store.delete(key, 'at-someone-else');
      expect((await store.get(key))?.accessToken).toBe('at-current');
      await store.delete(key, 'at-current');
      await expect(store.get(key)).resolves.toBeUndefined();
    });

    it('delete(key) without a token deletes whatever is stored', async () => {
      const store = await makeStore();
      const key = newKey();
      await store.set(key, token('at-any'), 60_000);
      await store.delete(key);
      await expect(store.get(key)).resolves.toBeUndefined();
    });

    it('delete of a missing key resolves quietly', async () => {
      const store = await makeStore();
      await expect(store.delete(newKey())).resolves.toBeUndefined();
      await expect(store.delete(newKey(), 'at-x')).resolves.toBeUndefined();
    });

    it('lock: the first caller gets a lock with a positive fencing token, a second gets undefined while it is held', async () => {
      const store = await makeStore();
      const key = newKey();
      const first = await store.lock!(key, 10_000);
      expect(first).toBeDefined();
      expect(first!.fencingToken).toBeGreaterThan(0);
      await expect(store.lock!(key, 10_000)).resolves.toBeUndefined();
      await first!.release();
    });

    it('locks of different keys do not exclude each other', async () => {
      const store = await makeStore();
      const a = await store.lock!(newKey(), 10_000);
      const b = await store.lock!(newKey(), 10_000);
      expect(a).toBeDefined();
      expect(b).toBeDefined();
      await a!.release();
      await b!.release();
    });

    it('release by the owner frees the lock, and fencing tokens increase across successive locks', async () => {
      const store = await makeStore();
      const key = newKey();
      const fences: number[] = [];
      for (let i = 0; i < 4; i++) {
        const lock = await store.lock!(key, 10_000);
        expect(lock, `lock #${i + 1} after the previous release`).toBeDefined();
        fences.push(lock!.fencingToken);
        await lock!.release();
      }
      for (let i = 1; i < fences.length; i++) expect(fences[i]).toBeGreaterThan(fences[i - 1]!);
    });

    it('a lock expires by itself after its ttl (a dead holder does not block forever)', async () => {
      const store = await makeStore();
      const key = newKey();
      const dead = await store.lock!(key, 60);
      expect(dead).toBeDefined();
      await expect(store.lock!(key, 60)).resolves.toBeUndefined();
      await sleep(150);
      const next = await store.lock!(key, 10_000);
      expect(next).toBeDefined();
      expect(next!.fencingToken).toBeGreaterThan(dead!.fencingToken);
      await next!.release();
    });

    it("a stale holder's release (its lock expired and was taken over) does not release the new holder's lock", async () => {
      const store = await makeStore();
      const key = newKey();
      const stale = await store.lock!(key, 60);
      await sleep(150);
      const current = await store.lock!(key, 10_000);
      expect(current).toBeDefined();
      await stale!.release();
      await expect(store.lock!(key, 10_000)).resolves.toBeUndefined();
      await current!.release();
      const after = await store.lock!(key, 10_000);
      expect(after).toBeDefined();
      await after!.release();
    });

    it('getCooldown of a key never set resolves undefined; setCooldown then getCooldown returns the end instant', async () => {
      const store = await makeStore();
      const key = newKey();
      await expect(store.getCooldown!(key)).resolves.toBeUndefined();
      const until = Date.now() + 2_000;
      await store.setCooldown!(key, until, 2_000);
      await expect(store.getCooldown!(key)).resolves.toBe(until);
      await expect(store.getCooldown!(newKey())).resolves.toBeUndefined();
    });

    it('setCooldown never shortens a cooldown that ends later', async () => {
      const store = await makeStore();
      const key = newKey();
      const later = Date.now() + 10_000;
      await store.setCooldown!(key, later, 10_000);
      await store.setCooldown!(key, later - 5_000, 5_000);
      await expect(store.getCooldown!(key)).resolves.toBe(later);
      await store.setCooldown!(key, later + 1_000, 11_000);
      await expect(store.getCooldown!(key)).resolves.toBe(later + 1_000);
    });

    it('a cooldown is gone once its ttl has passed', async () => {
      const store = await makeStore();
      const key = newKey();
      await store.setCooldown!(key, Date.now() + 60, 60);
      await sleep(150);
      await expect(store.getCooldown!(key)).resolves.toBeUndefined();
    });

    it('incrementBudget counts 1, 2, 3 … within a window, with the time left in it; keys count apart', async () => {
      const store = await makeStore();
      const [a, b] = [newKey(), newKey()];
      const counts: number[] = [];
      for (let i = 0; i < 3; i++) {
        const { count, resetIn } = await store.incrementBudget!(a, 60_000);
        counts.push(count);
        expect(resetIn).toBeGreaterThan(50_000);
        expect(resetIn).toBeLessThanOrEqual(60_000);
      }
      expect(counts).toEqual([1, 2, 3]);
      expect((await store.incrementBudget!(b, 60_000)).count).toBe(1);
    });

    it('a budget window ends after `window` ms: the count starts again at 1', async () => {
      const store = await makeStore();
      const key = newKey();
      await store.incrementBudget!(key, 60);
      expect((await store.incrementBudget!(key, 60)).count).toBe(2);
      await sleep(150);
      expect((await store.incrementBudget!(key, 60)).count).toBe(1);
    });

    it('incrementBudget is atomic: concurrent increments each get their own count', async () => {
      const store = await makeStore();
      const key = newKey();
      const counts = await Promise.all(Array.from({ length: 20 }, () => store.incrementBudget!(key, 60_000)));
      expect(counts.map((c) => c.count).sort((x, y) => x - y)).toEqual(Array.from({ length: 20 }, (_, i) => i + 1));
    });

    it('releasing twice is harmless and does not free a later holder', async () => {
      const store = await makeStore();
      const key = newKey();
      const first = await store.lock!(key, 10_000);
      await first!.release();
      const second = await store.lock!(key, 10_000);
      await first!.release();
      await expect(store.lock!(key, 10_000)).resolves.toBeUndefined();
      await second!.release();
    });
  });
}

tokenStoreContract(
  'MemoryTokenStore',
  () => new MemoryTokenStore(),
  () => {
    const store = new MemoryTokenStore();
    return [store, store];
  },
);

describe('on a real redis-server', () => {
  let server: RedisServer | undefined;
  let redis: Redis | undefined;
  /** The subscriber connections of the invalidation tests. */
  const subscribers: Redis[] = [];
  beforeAll(async () => {
    server = await RedisServer.start();
    redis = new Redis({ host: '127.0.0.1', port: server.port, lazyConnect: true });
    await redis.connect();
  });
  afterAll(async () => {
    for (const subscriber of subscribers) subscriber.disconnect();
    redis?.disconnect();
    await server?.stop();
  });
  let n = 0;
  /** Two stores on one Redis, each with its own subscriber connection. */
  const peers = (options: { prefix: string; encryptionKey?: Uint8Array }): [TokenStore, TokenStore] => {
    const [a, b] = [redis!.duplicate(), redis!.duplicate()];
    subscribers.push(a, b);
    return [
      new RedisTokenStore({ client: redis!, subscriber: a, ...options }),
      new RedisTokenStore({ client: redis!, subscriber: b, ...options }),
    ];
  };
  tokenStoreContract(
    'RedisTokenStore',
    () => new RedisTokenStore({ client: redis!, prefix: `contract-plain-${++n}:` }),
    () => peers({ prefix: `contract-plain-${++n}:` }),
  );
  const encryptionKey = randomBytes(32);
  tokenStoreContract(
    'RedisTokenStore with encryptionKey',
    () => new RedisTokenStore({ client: redis!, prefix: `contract-enc-${++n}:`, encryptionKey: randomBytes(32) }),
    () => peers({ prefix: `contract-enc-${++n}:`, encryptionKey }),
  );
});

describe('on a real Redis Cluster (3 masters)', () => {
  let cluster: RedisCluster | undefined;
  let client: Cluster | undefined;
  /** The subscriber connections of the invalidation tests. */
  const subscribers: Cluster[] = [];
  beforeAll(async () => {
    cluster = await RedisCluster.start();
    client = new Cluster(cluster.nodes, { lazyConnect: true });
    await client.connect();
  }, 30_000);
  afterAll(async () => {
    for (const subscriber of subscribers) subscriber.disconnect();
    client?.disconnect();
    await cluster?.stop();
  });

  let n = 0;
  const key = randomBytes(32);
  tokenStoreContract(
    'RedisTokenStore on Redis Cluster (encrypted)',
    () => new RedisTokenStore({ client: client!, prefix: `contract-cluster-${++n}:`, encryptionKey: key }),
    () => {
      const prefix = `contract-cluster-${++n}:`;
      const [a, b] = [client!.duplicate(), client!.duplicate()];
      subscribers.push(a, b);
      return [
        new RedisTokenStore({ client: client!, subscriber: a, prefix, encryptionKey: key }),
        new RedisTokenStore({ client: client!, subscriber: b, prefix, encryptionKey: key }),
      ];
    },
  );

  it('the keys of one cache key really are in one slot, and different cache keys spread over the nodes', async () => {
    const store = new RedisTokenStore({ client: client!, prefix: 'slots:' });
    const nodesUsed = new Set<string>();
    for (let i = 0; i < 12; i++) {
      const cacheKey = newKey();
      await store.set(cacheKey, token(`at-${i}`), 60_000);
      const lock = await store.lock(cacheKey, 10_000);
      expect(lock).toBeDefined();
      const slots = await Promise.all(
        ['token', 'lock', 'fence'].map((part) => client!.cluster('KEYSLOT', `slots:{${cacheKey}}:${part}`) as Promise<number>),
      );
      expect(new Set(slots).size).toBe(1);
      const ranges = await client!.cluster('SLOTS');
      const range = ranges.find(([from, to]) => slots[0]! >= from && slots[0]! <= to)!;
      nodesUsed.add(String(range[2]![1]));
      await lock!.release();
      await store.delete(cacheKey);
    }
    // Twelve random keys all landing on one of three equal slot ranges: (1/3)^11, never in practice.
    expect(nodesUsed.size).toBeGreaterThan(1);
  });
});
