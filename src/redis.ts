/**
 * `m2m-token/redis`: a {@link TokenStore} on Redis, for one token per rotation across a fleet.
 *
 * @example
 * ```ts
 * import Redis from 'ioredis';
 * import { ClientCredentialsClient } from 'm2m-token';
 * import { RedisTokenStore } from 'm2m-token/redis';
 *
 * const redis = new Redis(process.env.REDIS_URL);
 * // `subscriber` (optional): a second connection, for fleet-wide invalidation.
 * const store = new RedisTokenStore({ client: redis, subscriber: redis.duplicate(), encryptionKey: key32bytes });
 * const client = new ClientCredentialsClient({ tokenEndpoint, clientId, clientSecret, store });
 * ```
 * @module
 */
import { createCipheriv, createDecipheriv, randomBytes } from 'node:crypto';
import * as z from 'zod/mini';
import type { BudgetCount, InvalidationListener, StoredToken, TokenStore, TokenStoreLock } from './store.js';
import { checkSubscriber, RedisInvalidations, type RedisSubscriberLike } from './redis-invalidations.js';
import { tokenFingerprint as fingerprint } from './util/fingerprint.js';
import { onFirstUse } from './util/on-first-use.js';

/**
 * The commands the store uses, as `ioredis` (`Redis` and `Cluster`) provides them. Any client with
 * these methods works.
 */
export interface RedisClientLike {
  /** Runs a Lua script (`EVAL`): the store's writes, locks and deletes are atomic scripts. */
  eval(script: string, numKeys: number, ...args: (string | number)[]): Promise<unknown>;
  /** Reads one field of a hash (`HGET`): the stored token. */
  hget(key: string, field: string): Promise<string | null>;
}

/** Options of {@link RedisTokenStore}. */
export interface RedisTokenStoreOptions {
  /** A connected `ioredis` client (`new Redis(…)` or `new Redis.Cluster(…)`), owned by you. */
  client: RedisClientLike;
  /**
   * Prefix of every key. Keys look like `<prefix>{<hash>}:token`: the hash tag keeps a token, its lock
   * and its fencing counter in one Redis Cluster slot.
   * @default 'm2m-token:'
   */
  prefix?: string;
  /**
   * A 32-byte key: tokens are then encrypted at rest with AES-256-GCM, bound to their Redis key. Every
   * process of the fleet needs the same key.
   * @default none (tokens stored as JSON)
   */
  encryptionKey?: Uint8Array;
  /**
   * A second connection to the same Redis, owned by you (`redis.duplicate()`), for fleet-wide
   * invalidation: a token one process found refused (a 401 for it) or revoked is dropped by every
   * process that has it, within milliseconds (at most once: a process whose connection is down at the
   * time misses it, and keeps its copy until it expires). The store subscribes to the channel
   * `<prefix>invalidated` while a client uses it, and never disconnects the connection. Give each store
   * its own connection (or stores different prefixes).
   * @default none (`onInvalidate` absent: each process only drops the tokens it found refused)
   */
  subscriber?: RedisSubscriberLike;
}

// Sets the token unless the stored one expires later. KEYS[1] token hash; ARGV: expiresAt, payload, fingerprint, ttl.
const SET_IF_NOT_OLDER = `
local current = redis.call('HGET', KEYS[1], 'e')
if current and tonumber(current) > tonumber(ARGV[1]) then return 0 end
redis.call('HSET', KEYS[1], 'e', ARGV[1], 'v', ARGV[2], 'f', ARGV[3])
redis.call('PEXPIRE', KEYS[1], ARGV[4])
return 1`;

// Deletes the token if its fingerprint matches (or unconditionally with an empty fingerprint); with a
// fingerprint, announces it, matched or not: ARGV: fingerprint, channel, store key.
const DELETE_IF = `
local deleted = 0
if ARGV[1] == '' or redis.call('HGET', KEYS[1], 'f') == ARGV[1] then deleted = redis.call('DEL', KEYS[1]) end
if ARGV[1] ~= '' then redis.call('PUBLISH', ARGV[2], ARGV[3] .. ' ' .. ARGV[1]) end
return deleted`;

// SET NX PX with a fencing token: KEYS[1] lock, KEYS[2] counter; ARGV: ttl. Returns the fence, or 0 when held.
const LOCK = `
if redis.call('EXISTS', KEYS[1]) == 1 then return 0 end
local fence = redis.call('INCR', KEYS[2])
redis.call('PEXPIRE', KEYS[2], 2592000000)
redis.call('SET', KEYS[1], fence, 'NX', 'PX', ARGV[1])
return fence`;

// Releases the lock only for its owner.
const UNLOCK = `
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0`;

// Keeps the later cooldown end: KEYS[1] cooldown; ARGV: until (epoch ms), ttl.
const SET_COOLDOWN = `
local current = redis.call('GET', KEYS[1])
if current and tonumber(current) >= tonumber(ARGV[1]) then return 0 end
redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
return 1`;

// A fixed-window counter: KEYS[1] counter; ARGV: window. Returns { count, ms left in the window }.
const INCREMENT_BUDGET = `
local count = redis.call('INCR', KEYS[1])
local ttl = redis.call('PTTL', KEYS[1])
if ttl < 0 then
  redis.call('PEXPIRE', KEYS[1], ARGV[1])
  ttl = tonumber(ARGV[1])
end
return { count, ttl }`;

/** The schema of a stored entry, built on the first read: importing the entry point builds no schema. */
const storedSchema = onFirstUse(() =>
  z.object({
    accessToken: z.string().check(z.minLength(1)),
    tokenType: z.string().check(z.minLength(1)),
    expiresAt: z.number(),
    sentAt: z.number(),
    scope: z.optional(z.string()),
    extra: z.record(z.string(), z.unknown()),
  }),
);

/**
 * ioredis attaches the failed command to its errors, arguments included (`error.command.args`): for
 * `set` that is the token, in clear without `encryptionKey`, and the error becomes the `cause` of the
 * client's store `error` event. Keep only the command's name.
 */
function withoutArguments(error: unknown): never {
  const command = (error as { command?: unknown } | null)?.command;
  if (typeof command === 'object' && command !== null) {
    try {
      (error as { command: unknown }).command = { name: (command as { name?: unknown }).name };
    } catch {
      throw new Error(`Redis ${String((command as { name?: unknown }).name)} failed: ${(error as Error).message}`);
    }
  }
  throw error;
}

const IV_BYTES = 12;
const TAG_BYTES = 16;

/**
 * A {@link TokenStore} on Redis (standalone or Cluster). Refresh locks are `SET NX PX` with a fencing
 * token, released only by their owner and expiring on their own if the owner dies. Writes never replace
 * a token that expires later. With `encryptionKey`, tokens are encrypted at rest (AES-256-GCM).
 * An entry that cannot be read (corrupt, or encrypted with another key) counts as missing. A delete
 * with a token is published on `<prefix>invalidated` (`<key> <fingerprint>`), in the same script; with
 * a `subscriber`, {@link RedisTokenStore.onInvalidate} tells of them.
 *
 * @see https://redis.io/docs/latest/develop/use/patterns/distributed-locks/
 */
export class RedisTokenStore implements TokenStore {
  readonly shared = true;
  readonly #client: RedisClientLike;
  readonly #prefix: string;
  readonly #key: Uint8Array | undefined;
  readonly #channel: string;

  /**
   * Subscribes `listener` to the invalidations of every process sharing this Redis (see
   * {@link TokenStore.onInvalidate}): SUBSCRIBE on the `subscriber` connection with the first listener,
   * UNSUBSCRIBE when the last is removed. Undefined without a `subscriber`.
   */
  readonly onInvalidate?: (listener: InvalidationListener) => () => void;

  constructor(options: RedisTokenStoreOptions) {
    const { client, prefix = 'm2m-token:', encryptionKey, subscriber } = options ?? ({} as RedisTokenStoreOptions);
    if (typeof client?.eval !== 'function' || typeof client?.hget !== 'function') {
      throw new TypeError('m2m-token: option `client` must be a Redis client (ioredis `Redis` or `Cluster`)');
    }
    if (typeof prefix !== 'string') throw new TypeError('m2m-token: option `prefix` must be a string');
    if (encryptionKey !== undefined && (!(encryptionKey instanceof Uint8Array) || encryptionKey.byteLength !== 32)) {
      throw new TypeError('m2m-token: option `encryptionKey` must be 32 bytes (a Buffer or Uint8Array)');
    }
    if (subscriber !== undefined) checkSubscriber(subscriber, client);
    this.#client = client;
    this.#prefix = prefix;
    this.#key = encryptionKey === undefined ? undefined : Uint8Array.from(encryptionKey);
    this.#channel = `${prefix}invalidated`;
    if (subscriber !== undefined) {
      const invalidations = new RedisInvalidations(subscriber, this.#channel);
      this.onInvalidate = (listener) => invalidations.subscribe(listener);
    }
  }

  async get(key: string): Promise<StoredToken | undefined> {
    const name = this.#name(key, 'token');
    const payload = await this.#client.hget(name, 'v');
    if (payload === null) return undefined;
    const parsed = storedSchema().safeParse(this.#decode(name, payload));
    return parsed.success ? parsed.data : undefined;
  }

  async set(key: string, token: StoredToken, ttl: number): Promise<void> {
    if (!(ttl > 0)) return;
    const name = this.#name(key, 'token');
    const { accessToken, tokenType, expiresAt, sentAt, scope, extra } = token;
    const payload = this.#encode(name, JSON.stringify({ accessToken, tokenType, expiresAt, sentAt, scope, extra }));
    await this.#client
      .eval(SET_IF_NOT_OLDER, 1, name, expiresAt, payload, fingerprint(accessToken), Math.ceil(ttl))
      .catch(withoutArguments);
  }

  async delete(key: string, accessToken?: string): Promise<void> {
    const tokenPrint = accessToken === undefined ? '' : fingerprint(accessToken);
    await this.#client.eval(DELETE_IF, 1, this.#name(key, 'token'), tokenPrint, this.#channel, key);
  }

  async lock(key: string, ttl: number): Promise<TokenStoreLock | undefined> {
    const lockName = this.#name(key, 'lock');
    const fence = Number(await this.#client.eval(LOCK, 2, lockName, this.#name(key, 'fence'), Math.ceil(ttl)));
    if (!(fence > 0)) return undefined;
    return {
      fencingToken: fence,
      release: async () => {
        await this.#client.eval(UNLOCK, 1, lockName, String(fence));
      },
    };
  }

  async getCooldown(key: string): Promise<number | undefined> {
    const value = Number(await this.#client.eval("return redis.call('GET', KEYS[1])", 1, this.#name(key, 'cooldown')));
    return Number.isFinite(value) && value > 0 ? value : undefined;
  }

  async setCooldown(key: string, until: number, ttl: number): Promise<void> {
    if (!(ttl > 0)) return;
    await this.#client.eval(SET_COOLDOWN, 1, this.#name(key, 'cooldown'), Math.round(until), Math.ceil(ttl));
  }

  async incrementBudget(key: string, window: number): Promise<BudgetCount> {
    const [count, resetIn] = (await this.#client.eval(INCREMENT_BUDGET, 1, this.#name(key, 'budget'), Math.ceil(window))) as [
      number,
      number,
    ];
    return { count: Number(count), resetIn: Number(resetIn) };
  }

  /** A Redis key name: the cache key is already a hash; the braces make it the Cluster hash tag. */
  #name(key: string, part: 'token' | 'lock' | 'fence' | 'cooldown' | 'budget'): string {
    return `${this.#prefix}{${key}}:${part}`;
  }

  #encode(name: string, json: string): string {
    if (this.#key === undefined) return json;
    const iv = randomBytes(IV_BYTES);
    const cipher = createCipheriv('aes-256-gcm', this.#key, iv).setAAD(Buffer.from(name));
    const sealed = Buffer.concat([cipher.update(json, 'utf8'), cipher.final()]);
    return `gcm:${Buffer.concat([iv, cipher.getAuthTag(), sealed]).toString('base64')}`;
  }

  #decode(name: string, payload: string): unknown {
    try {
      if (this.#key === undefined) return payload.startsWith('gcm:') ? undefined : JSON.parse(payload);
      if (!payload.startsWith('gcm:')) return undefined;
      const bytes = Buffer.from(payload.slice(4), 'base64');
      const decipher = createDecipheriv('aes-256-gcm', this.#key, bytes.subarray(0, IV_BYTES)).setAAD(Buffer.from(name));
      decipher.setAuthTag(bytes.subarray(IV_BYTES, IV_BYTES + TAG_BYTES));
      return JSON.parse(Buffer.concat([decipher.update(bytes.subarray(IV_BYTES + TAG_BYTES)), decipher.final()]).toString('utf8'));
    } catch {
      return undefined;
    }
  }
}

export type { RedisMessageListener, RedisSubscriberLike } from './redis-invalidations.js';
export type { BudgetCount, InvalidationListener, StoredToken, TokenStore, TokenStoreLock } from './store.js';
export { tokenFingerprint } from './store.js';
