/**
 * What is specific to RedisTokenStore, read straight from a real redis-server: key names and their
 * Cluster slots, encryption at rest (nothing readable, bound to the key name, tamper-evident), entries
 * that cannot be read count as missing, no client secret ever reaches Redis, and invalidations are
 * published as `<key> <fingerprint>` (never the token) and read defensively.
 */
import { randomBytes } from 'node:crypto';
import { createRequire } from 'node:module';
import { Redis } from 'ioredis';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { ClientCredentialsClient, type StoredToken, tokenFingerprint } from '../../src/index.js';
import { RedisTokenStore } from '../../src/redis.js';
import { RedisServer, startTokenServer, type TokenServer } from '../helpers/redis.js';
import { sleep, waitUntil } from '../helpers/time.js';

/** CRC16-XMODEM of the hash tag, mod 16384: the Redis Cluster key slot, computed independently of ioredis. */
function keySlot(name: string): number {
  const open = name.indexOf('{');
  let tagged = name;
  if (open !== -1) {
    const close = name.indexOf('}', open + 1);
    if (close > open + 1) tagged = name.slice(open + 1, close);
  }
  let crc = 0;
  for (const byte of Buffer.from(tagged)) {
    crc ^= byte << 8;
    for (let i = 0; i < 8; i++) crc = crc & 0x8000 ? ((crc << 1) ^ 0x1021) & 0xffff : (crc << 1) & 0xffff;
  }
  return crc % 16384;
}

/** What ioredis itself routes by (its `cluster-key-slot` dependency). */
const clusterKeySlot = createRequire(import.meta.url)('cluster-key-slot') as (key: string) => number;

const newKey = () => randomBytes(32).toString('base64url');
const SECRET_TOKEN = 'AT-redis-must-never-be-readable-7c1d';

function token(more: Partial<StoredToken> = {}): StoredToken {
  const now = Date.now();
  return {
    accessToken: SECRET_TOKEN,
    tokenType: 'Bearer',
    expiresAt: now + 600_000,
    sentAt: now,
    scope: 'orders:read',
    extra: { issued_token_type: 'urn:ietf:params:oauth:token-type:access_token' },
    ...more,
  };
}

let server: RedisServer | undefined;
let redis: Redis | undefined;
let tokenServer: TokenServer | undefined;

beforeAll(async () => {
  server = await RedisServer.start();
  redis = new Redis({ host: '127.0.0.1', port: server.port, lazyConnect: true });
  await redis.connect();
  tokenServer = await startTokenServer({ expiresIn: 3600 });
});

afterAll(async () => {
  redis?.disconnect();
  await server?.stop();
  await tokenServer?.close();
});

/** Every key under `prefix` with its full content, as text. */
async function dump(prefix: string): Promise<Record<string, string>> {
  const out: Record<string, string> = {};
  let cursor = '0';
  for (let i = 0; i < 1000; i++) {
    const [next, keys] = await redis!.scan(cursor, 'MATCH', `${prefix}*`, 'COUNT', 100);
    for (const name of keys) {
      const type = await redis!.type(name);
      if (type === 'hash') out[name] = JSON.stringify(await redis!.hgetall(name));
      else if (type === 'string') out[name] = String(await redis!.get(name));
      else out[name] = `<${type}>`;
    }
    cursor = next;
    if (cursor === '0') break;
  }
  return out;
}

describe('RedisTokenStore key layout', () => {
  it('names keys <prefix>{<cache key>}:token|lock|fence, all in the cache key’s Cluster slot', async () => {
    const store = new RedisTokenStore({ client: redis!, prefix: 'layout:' });
    const key = newKey();
    await store.set(key, token(), 60_000);
    const lock = await store.lock(key, 10_000);
    const names = Object.keys(await dump('layout:')).sort();
    expect(names).toEqual([`layout:{${key}}:fence`, `layout:{${key}}:lock`, `layout:{${key}}:token`]);
    const slots = new Set(names.map(keySlot));
    expect(slots).toEqual(new Set([keySlot(key)]));
    expect(new Set(names.map(clusterKeySlot))).toEqual(slots);
    await lock!.release();
  });

  it('different cache keys get different hash tags (not all in one slot)', () => {
    const slots = new Set(Array.from({ length: 20 }, () => keySlot(`m2m-token:{${newKey()}}:token`)));
    expect(slots.size).toBeGreaterThan(1);
  });

  it('uses the default prefix m2m-token: when none is given', async () => {
    const store = new RedisTokenStore({ client: redis! });
    const key = newKey();
    await store.set(key, token(), 60_000);
    expect(await redis!.exists(`m2m-token:{${key}}:token`)).toBe(1);
    await store.delete(key);
  });

  it('the lock and the token carry the ttl they were given (in ms)', async () => {
    const store = new RedisTokenStore({ client: redis!, prefix: 'ttl:' });
    const key = newKey();
    await store.set(key, token(), 45_000);
    const lock = await store.lock(key, 7_000);
    const tokenTtl = await redis!.pttl(`ttl:{${key}}:token`);
    const lockTtl = await redis!.pttl(`ttl:{${key}}:lock`);
    expect(tokenTtl).toBeGreaterThan(40_000);
    expect(tokenTtl).toBeLessThanOrEqual(45_000);
    expect(lockTtl).toBeGreaterThan(5_000);
    expect(lockTtl).toBeLessThanOrEqual(7_000);
    await lock!.release();
    expect(await redis!.exists(`ttl:{${key}}:lock`)).toBe(0);
  });

  it('stores nothing for a ttl that has already run out', async () => {
    const store = new RedisTokenStore({ client: redis!, prefix: 'ttl0:' });
    const key = newKey();
    await store.set(key, token(), 0);
    await store.set(key, token(), -5);
    expect(await dump('ttl0:')).toEqual({});
  });
});

describe('RedisTokenStore with encryptionKey', () => {
  const keyA = randomBytes(32);

  it('the raw Redis content holds neither the access token nor any JSON field in clear', async () => {
    const store = new RedisTokenStore({ client: redis!, prefix: 'enc-raw:', encryptionKey: keyA });
    const key = newKey();
    await store.set(key, token(), 60_000);
    const raw = JSON.stringify(await dump('enc-raw:'));
    expect(raw).toContain('gcm:'); // the entry is there, sealed
    for (const clear of [SECRET_TOKEN, 'accessToken', 'tokenType', 'Bearer', 'sentAt', 'orders:read', 'issued_token_type', 'urn:ietf']) {
      expect(raw).not.toContain(clear);
    }
    // ...and still reads back
    expect((await store.get(key))?.accessToken).toBe(SECRET_TOKEN);
  });

  it('a store with a different key reads the entry as missing', async () => {
    const key = newKey();
    await new RedisTokenStore({ client: redis!, prefix: 'enc-other:', encryptionKey: keyA }).set(key, token(), 60_000);
    const other = new RedisTokenStore({ client: redis!, prefix: 'enc-other:', encryptionKey: randomBytes(32) });
    await expect(other.get(key)).resolves.toBeUndefined();
  });

  it('a tampered ciphertext reads as missing', async () => {
    const store = new RedisTokenStore({ client: redis!, prefix: 'enc-tamper:', encryptionKey: keyA });
    const key = newKey();
    await store.set(key, token(), 60_000);
    const name = `enc-tamper:{${key}}:token`;
    const sealed = (await redis!.hget(name, 'v'))!;
    const bytes = Buffer.from(sealed.slice(4), 'base64');
    bytes[bytes.length - 3]! ^= 0x01; // one bit of the ciphertext
    await redis!.hset(name, 'v', `gcm:${bytes.toString('base64')}`);
    await expect(store.get(key)).resolves.toBeUndefined();
  });

  it('a ciphertext copied under another key name reads as missing (sealed to its key name)', async () => {
    const store = new RedisTokenStore({ client: redis!, prefix: 'enc-move:', encryptionKey: keyA });
    const [from, to] = [newKey(), newKey()];
    await store.set(from, token(), 60_000);
    await store.set(to, token({ accessToken: 'AT-other', expiresAt: Date.now() + 60_000 }), 60_000);
    const sealed = (await redis!.hget(`enc-move:{${from}}:token`, 'v'))!;
    await redis!.hset(`enc-move:{${to}}:token`, 'v', sealed);
    await expect(store.get(to)).resolves.toBeUndefined();
    expect((await store.get(from))?.accessToken).toBe(SECRET_TOKEN);
  });

  it('a plain store does not read encrypted entries, and an encrypted store does not read plain ones', async () => {
    const [sealedKey, plainKey] = [newKey(), newKey()];
    const encrypted = new RedisTokenStore({ client: redis!, prefix: 'enc-mix:', encryptionKey: keyA });
    const plain = new RedisTokenStore({ client: redis!, prefix: 'enc-mix:' });
    await encrypted.set(sealedKey, token(), 60_000);
    await plain.set(plainKey, token(), 60_000);
    await expect(plain.get(sealedKey)).resolves.toBeUndefined();
    await expect(encrypted.get(plainKey)).resolves.toBeUndefined();
  });

  it('rejects an encryption key that is not 32 bytes', () => {
    expect(() => new RedisTokenStore({ client: redis!, encryptionKey: randomBytes(16) })).toThrow(TypeError);
    expect(() => new RedisTokenStore({ client: redis!, encryptionKey: 'x'.repeat(32) as unknown as Uint8Array })).toThrow(TypeError);
  });
});

describe('RedisTokenStore: unreadable entries count as missing', () => {
  const store = () => new RedisTokenStore({ client: redis!, prefix: 'corrupt:' });

  it.each([
    ['corrupt JSON', '{"accessToken":"AT-x",'],
    ['JSON of the wrong shape', JSON.stringify({ accessToken: 'AT-x', tokenType: 'Bearer' })],
    ['an empty access token', JSON.stringify({ accessToken: '', tokenType: 'Bearer', expiresAt: 1, sentAt: 1, extra: {} })],
    ['a JSON string', '"AT-x"'],
  ])('%s reads as missing', async (_, value) => {
    const key = newKey();
    await redis!.hset(`corrupt:{${key}}:token`, 'v', value, 'e', String(Date.now() + 60_000));
    await expect(store().get(key)).resolves.toBeUndefined();
  });

  it('a corrupt entry is replaced by the next set of a valid token', async () => {
    const key = newKey();
    await redis!.hset(`corrupt:{${key}}:token`, 'v', 'not json', 'e', '0');
    await store().set(key, token(), 60_000);
    expect((await store().get(key))?.accessToken).toBe(SECRET_TOKEN);
  });
});

describe('RedisTokenStore with a client', () => {
  const CLIENT_SECRET = 'zq-REDIS-S3CRET-must-never-leak-4b2a';

  it('the client secret never reaches Redis: every key and value scanned after get, refresh, revoke and close', async () => {
    const prefix = `secret-scan-${Date.now()}:`;
    for (const encryptionKey of [undefined, randomBytes(32)]) {
      const store = new RedisTokenStore({ client: redis!, prefix, ...(encryptionKey ? { encryptionKey } : {}) });
      const options = {
        tokenEndpoint: tokenServer!.tokenEndpoint,
        revocationEndpoint: tokenServer!.revocationEndpoint,
        clientId: 'svc-secret-scan',
        clientSecret: CLIENT_SECRET,
        scope: encryptionKey ? 'b' : 'a',
        store,
      };
      const a = new ClientCredentialsClient(options);
      const b = new ClientCredentialsClient({ ...options, clientAuth: 'client_secret_post' });
      await a.getToken();
      await b.getToken({ forceRefresh: true });
      await b.getToken({ scope: 'other' });
      await a.revoke();
      await a.getToken();
      await a.close();
      await b.close();
    }
    const content = await dump(prefix);
    expect(Object.keys(content).some((name) => name.endsWith(':token'))).toBe(true);
    const everything = JSON.stringify(content);
    const basic = Buffer.from(`svc-secret-scan:${CLIENT_SECRET}`).toString('base64');
    for (const secret of [CLIENT_SECRET, encodeURIComponent(CLIENT_SECRET), basic]) expect(everything).not.toContain(secret);
    // The server did see the secret (the test is not vacuous).
    expect(tokenServer!.requests.some((r) => r.body.includes(CLIENT_SECRET) || r.authorization === `Basic ${basic}`)).toBe(true);
  });

  it('the cache key in Redis is a hash: neither the client id, the scope nor the endpoint appears in a key name', async () => {
    const prefix = `opaque-${Date.now()}:`;
    const client = new ClientCredentialsClient({
      tokenEndpoint: tokenServer!.tokenEndpoint,
      clientId: 'svc-visible-id',
      clientSecret: CLIENT_SECRET,
      scope: 'payments:refund',
      store: new RedisTokenStore({ client: redis!, prefix }),
    });
    await client.getToken();
    await client.close();
    const names = Object.keys(await dump(prefix));
    expect(names.some((name) => name.endsWith(':token'))).toBe(true);
    for (const name of names) expect(name).toMatch(new RegExp(`^${prefix}\\{[A-Za-z0-9_-]{43}\\}:(token|lock|fence)$`));
    for (const visible of ['svc-visible-id', 'payments', String(tokenServer!.port)]) expect(names.join(' ')).not.toContain(visible);
  });
});

describe('RedisTokenStore invalidations (`subscriber`)', () => {
  /** Connections opened by a test, disconnected after it. */
  const opened: Redis[] = [];
  const connection = () => {
    const duplicate = redis!.duplicate();
    opened.push(duplicate);
    return duplicate;
  };
  afterEach(() => {
    for (const c of opened.splice(0)) c.disconnect();
  });

  /** Every message published on any channel while `run` runs (a raw PSUBSCRIBE *), once `until` holds. */
  async function published(run: () => Promise<void>, until: (messages: [string, string][]) => boolean): Promise<[string, string][]> {
    const spy = connection();
    const messages: [string, string][] = [];
    spy.on('pmessage', (_pattern: string, channel: string, message: string) => messages.push([channel, message]));
    await spy.psubscribe('*');
    await run();
    await waitUntil(() => until(messages), { what: 'the expected messages' });
    return messages;
  }

  it('a delete with a token publishes `<key> <fingerprint>` on `<prefix>invalidated`, in the delete’s script: never the token, and nothing without a token', async () => {
    const prefix = `inval-${Date.now()}:`;
    const store = new RedisTokenStore({ client: redis!, prefix, encryptionKey: randomBytes(32) });
    const key = newKey();
    const messages = await published(
      async () => {
        await store.set(key, token(), 60_000);
        await store.delete(key);
        await store.set(key, token(), 60_000);
        await store.delete(key, SECRET_TOKEN);
        await store.delete(key, 'AT-already-gone');
      },
      (m) => m.length >= 2,
    );
    // The store has no subscriber: it still publishes (other processes may listen), and has no onInvalidate.
    expect(store.onInvalidate).toBeUndefined();
    expect(messages).toEqual([
      [`${prefix}invalidated`, `${key} ${tokenFingerprint(SECRET_TOKEN)}`],
      [`${prefix}invalidated`, `${key} ${tokenFingerprint('AT-already-gone')}`],
    ]);
    expect(JSON.stringify(messages)).not.toContain(SECRET_TOKEN);
    expect(JSON.stringify(messages)).not.toContain('AT-already-gone');
  });

  it('a client’s invalidate() publishes the fingerprint of the refused token and no token, with or without a subscriber', async () => {
    const prefix = `inval-client-${Date.now()}:`;
    const client = new ClientCredentialsClient({
      tokenEndpoint: tokenServer!.tokenEndpoint,
      clientId: 'svc-inval',
      clientSecret: 'inval-secret',
      store: new RedisTokenStore({ client: redis!, prefix, subscriber: connection() }),
    });
    try {
      const { accessToken } = await client.getToken();
      const messages = await published(
        async () => {
          expect(client.invalidate(accessToken)).toBe(true);
        },
        (m) => m.length >= 1,
      );
      expect(messages).toHaveLength(1);
      expect(messages[0]![0]).toBe(`${prefix}invalidated`);
      expect(messages[0]![1]).toMatch(new RegExp(`^[A-Za-z0-9_-]{43} ${tokenFingerprint(accessToken)}$`));
      expect(messages[0]![1]).not.toContain(accessToken);
    } finally {
      await client.close();
    }
  });

  it('ignores messages of the wrong shape on its channel, and messages of other channels on its connection', async () => {
    const prefix = `inval-shape-${Date.now()}:`;
    const subscriber = connection();
    const store = new RedisTokenStore({ client: redis!, prefix, subscriber });
    const told: [string, string][] = [];
    const unsubscribe = store.onInvalidate!((key, fingerprint) => told.push([key, fingerprint]));
    const other = new RedisTokenStore({ client: redis!, prefix: `${prefix}other:` });
    await subscriber.subscribe(`${prefix}other:invalidated`);
    const fp = tokenFingerprint('AT-x');
    await waitUntil(async () => Number(((await redis!.pubsub('NUMSUB', `${prefix}invalidated`)) as [string, number])[1]) === 1, {
      what: 'SUBSCRIBE',
    });
    for (const garbage of ['', 'no-space', ` ${fp}`, `key ${fp}x`, `key ${'!'.repeat(43)}`, `key ${fp.slice(1)}`, `key ${fp} more`]) {
      await redis!.publish(`${prefix}invalidated`, garbage);
    }
    await other.delete('other-key', 'AT-x');
    await redis!.publish(`${prefix}invalidated`, `key with spaces ${fp}`);
    await waitUntil(() => told.length > 0, { what: 'the well-formed message' });
    await sleep(20);
    expect(told).toEqual([['key with spaces', fp]]);
    unsubscribe();
  });

  it('SUBSCRIBEs once with the first listener and UNSUBSCRIBEs when the last goes; the connection is left open', async () => {
    const prefix = `inval-sub-${Date.now()}:`;
    const subscriber = connection();
    const store = new RedisTokenStore({ client: redis!, prefix, subscriber });
    const subscribers = async () => Number(((await redis!.pubsub('NUMSUB', `${prefix}invalidated`)) as [string, number])[1]);
    const stops = [store.onInvalidate!(() => {}), store.onInvalidate!(() => {})];
    await waitUntil(async () => (await subscribers()) === 1, { what: 'SUBSCRIBE' });
    expect(subscriber.listenerCount('message')).toBe(1);
    stops[0]!();
    stops[0]!(); // twice: harmless
    await sleep(20);
    expect(await subscribers()).toBe(1);
    stops[1]!();
    await waitUntil(async () => (await subscribers()) === 0, { what: 'UNSUBSCRIBE' });
    expect(subscriber.listenerCount('message')).toBe(0);
    expect(subscriber.status).toBe('ready');
  });

  it('a subscriber whose SUBSCRIBE or UNSUBSCRIBE throws or rejects: onInvalidate and its removal neither throw nor leave a rejection', async () => {
    for (const fail of [
      () => {
        throw new Error('connection closed');
      },
      () => Promise.reject(new Error('connection closed')),
    ]) {
      const subscriber = { subscribe: fail, unsubscribe: fail, on: () => {}, removeListener: () => {} };
      const store = new RedisTokenStore({ client: redis!, subscriber: subscriber as never });
      let stop: (() => void) | undefined;
      expect(() => (stop = store.onInvalidate!(() => {}))).not.toThrow();
      expect(() => stop!()).not.toThrow();
    }
    await sleep(10); // an unhandled rejection would fail the run
  });

  it('rejects a `subscriber` that is not a publish/subscribe connection, or is `client` itself', () => {
    for (const subscriber of [{}, 'redis://localhost', { subscribe: () => Promise.resolve(), on: () => {} }, null]) {
      expect(() => new RedisTokenStore({ client: redis!, subscriber: subscriber as never })).toThrow(/option `subscriber`/);
    }
    expect(() => new RedisTokenStore({ client: redis!, subscriber: redis! })).toThrow(/option `subscriber` must be a second connection/);
    expect(() => new RedisTokenStore({ client: redis!, subscriber: connection() })).not.toThrow();
  });
});
