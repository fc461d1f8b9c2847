/**
 * A token store is outside the client's control (another process, another version, a hand-edited Redis
 * key). An entry that cannot be a valid token — sent after it expired, non-finite times, no access
 * token — is a miss: the client asks the token endpoint and never hands the entry out.
 */
import { describe, expect, it } from 'vitest';
import { MemoryTokenStore, type StoredToken, type TokenStore } from '../../src/index.js';
import { tokenEndpoint, useMswServer } from '../helpers/msw.js';
import { useClients } from '../helpers/core.js';

const server = useMswServer();
const makeClient = useClients();

/** A store that answers every `get` with `entry` and ignores writes. */
function storeReturning(entry: unknown) {
  const state = { gets: 0 };
  const store: TokenStore = {
    get: async () => {
      state.gets++;
      return entry as StoredToken;
    },
    set: async () => {},
    delete: async () => {},
  };
  return { store, state };
}

const now = Date.now();
const base = { accessToken: 'bad', tokenType: 'Bearer', expiresAt: now + 3_600_000, sentAt: now - 1_000, extra: {} };
const { accessToken: _omitted, ...withoutAccessToken } = base;

const INVALID: readonly (readonly [string, unknown])[] = [
  ['sentAt after expiresAt', { ...base, expiresAt: now + 1_000, sentAt: now + 100_000 }],
  ['expiresAt NaN', { ...base, expiresAt: Number.NaN }],
  ['expiresAt Infinity', { ...base, expiresAt: Number.POSITIVE_INFINITY }],
  ['sentAt NaN', { ...base, sentAt: Number.NaN }],
  ['sentAt -Infinity', { ...base, sentAt: Number.NEGATIVE_INFINITY }],
  ['no accessToken', withoutAccessToken],
  ['an empty accessToken', { ...base, accessToken: '' }],
  ['a non-string accessToken', { ...base, accessToken: 42 }],
];

describe('a stored entry that cannot be a valid token', () => {
  it.each(INVALID)('(%s) from a custom TokenStore is a miss: the token is requested from the endpoint', async (_what, entry) => {
    const { handler, seen } = tokenEndpoint();
    server.use(handler);
    const { store, state } = storeReturning(entry);
    const client = makeClient({ store });
    // Today (except for the accessToken cases): resolves with 'bad' from the store, no request.
    const token = await client.getToken();
    expect(state.gets).toBeGreaterThan(0);
    expect(token.accessToken).toBe('tok-1');
    expect(seen).toHaveLength(1);
    const again = await client.getToken();
    expect(again.accessToken).toBe('tok-1');
  });

  it('(sentAt after expiresAt) in a MemoryTokenStore shared by two clients is a miss for the second client', async () => {
    const { handler, seen } = tokenEndpoint();
    server.use(handler);
    const memory = new MemoryTokenStore();
    let key: string | undefined;
    const spy: TokenStore = {
      get: (k) => memory.get(k),
      set: (k, token, ttl) => {
        key = k;
        return memory.set(k, token, ttl);
      },
      delete: (k, value) => memory.delete(k, value),
      lock: (k, ttl) => memory.lock(k, ttl),
    };
    await makeClient({ store: spy }).getToken();
    expect(key).toBeDefined();
    // Replace the shared entry with one sent after it expires.
    await memory.delete(key!);
    const t = Date.now();
    await memory.set(key!, { accessToken: 'bad', tokenType: 'Bearer', expiresAt: t + 1_000, sentAt: t + 100_000, extra: {} }, 60_000);

    const token = await makeClient({ store: spy }).getToken();
    // Today: 'bad', taken from the store.
    expect(token.accessToken).not.toBe('bad');
    expect(token.accessToken).toBe('tok-2');
    expect(seen).toHaveLength(2);
  });
});
