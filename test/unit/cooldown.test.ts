/**
 * The token endpoint cooldown: after a 429 (or a 503 with Retry-After) no token request is sent until it
 * ends — for every key of the client, and for every client sharing the store. Callers with a usable
 * token keep getting it; others get COOLDOWN at once, or wait with `waitForCooldown`.
 */
import { HttpResponse } from 'msw';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { cooldownFor } from '../../src/acquire/cooldown.js';
import { type ErrorEvent, MemoryTokenStore, TokenError } from '../../src/index.js';
import { tokenEndpoint, useMswServer } from '../helpers/msw.js';
import { advanceTo, deliveringFetch, fakeClocks, rejectionOf, settleIo, tokenJson, useClients } from '../helpers/core.js';
import { waitUntil } from '../helpers/time.js';

const server = useMswServer();
const makeClient = useClients();
const T0 = Date.UTC(2030, 0, 1, 12, 0, 0);
afterEach(() => vi.useRealTimers());

const tooMany = (retryAfter?: string) =>
  HttpResponse.json({ error: 'slow_down' }, { status: 429, headers: retryAfter === undefined ? {} : { 'retry-after': retryAfter } });

/** Answers `first` to request 1, then tokens `tok-<n>`. */
function firstThen(first: () => Response) {
  return tokenEndpoint((n) => (n === 1 ? first() : tokenJson(`tok-${n}`)));
}

describe('cooldownFor(): which answers start a cooldown, and how long', () => {
  const policy = { max: 60_000, default429: 30_000 };
  const error = (status: number, retryAfter?: number) => new TokenError('INVALID_RESPONSE', 'x', { status, retryAfter });
  it('429 and 503 with Retry-After: that long; 429 without: default429; capped at max', () => {
    expect(cooldownFor(error(429, 2000), policy)).toBe(2000);
    expect(cooldownFor(error(503, 5000), policy)).toBe(5000);
    expect(cooldownFor(error(429), policy)).toBe(30_000);
    expect(cooldownFor(error(429, 86_400_000), policy)).toBe(60_000);
  });
  it('no cooldown for a 503 without Retry-After, another status, a Retry-After of 0, or max 0', () => {
    expect(cooldownFor(error(503), policy)).toBeUndefined();
    expect(cooldownFor(error(500, 2000), policy)).toBeUndefined();
    expect(cooldownFor(error(429, 0), { ...policy, default429: 0 })).toBeUndefined();
    expect(cooldownFor(error(429, 2000), { max: 0, default429: 0 })).toBeUndefined();
    expect(cooldownFor(new Error('x'), policy)).toBeUndefined();
  });
});

describe('cooldown of one client (no store)', () => {
  it('after a 429 Retry-After: 2, a caller without a token gets COOLDOWN at once, with the wait left, and nothing is sent until it ends', async () => {
    fakeClocks(T0);
    const { handler, seen } = firstThen(() => tooMany('2'));
    server.use(handler);
    const { fetch, state } = deliveringFetch();
    const client = makeClient({ fetch });

    const first = await rejectionOf(client.getToken());
    expect(first.status).toBe(429);
    advanceTo(T0 + 500);
    const refused = await rejectionOf(client.getToken());
    expect(refused).toBeInstanceOf(TokenError);
    expect(refused.code).toBe('COOLDOWN');
    expect(refused.retryAfter).toBe(1500);
    expect(state.calls).toBe(1);

    advanceTo(T0 + 2000);
    expect((await client.getToken()).accessToken).toBe('tok-2');
    expect(seen).toHaveLength(2);
  });

  it('holds for every key of the client: another scope is refused too', async () => {
    fakeClocks(T0);
    server.use(firstThen(() => tooMany('5')).handler);
    const { fetch, state } = deliveringFetch();
    const client = makeClient({ fetch });
    await rejectionOf(client.getToken({ scope: 'a' }));
    expect((await rejectionOf(client.getToken({ scope: 'b' }))).code).toBe('COOLDOWN');
    expect(state.calls).toBe(1);
  });

  it('a hostile Retry-After: 86400 is capped at cooldown.max', async () => {
    fakeClocks(T0);
    server.use(firstThen(() => tooMany('86400')).handler);
    const client = makeClient({ cooldown: { max: 10_000 } });
    await rejectionOf(client.getToken());
    expect((await rejectionOf(client.getToken())).retryAfter).toBe(10_000);
    advanceTo(T0 + 10_000);
    expect((await client.getToken()).accessToken).toBe('tok-2');
  });

  it('a 429 without Retry-After cools down for cooldown.default429', async () => {
    fakeClocks(T0);
    server.use(firstThen(() => tooMany()).handler);
    const client = makeClient({ cooldown: { default429: 7_000 } });
    await rejectionOf(client.getToken());
    expect((await rejectionOf(client.getToken())).retryAfter).toBe(7_000);
  });

  it('a 503 without Retry-After starts no cooldown', async () => {
    fakeClocks(T0);
    server.use(firstThen(() => new HttpResponse('down', { status: 503 })).handler);
    const client = makeClient();
    expect((await rejectionOf(client.getToken())).status).toBe(503);
    expect((await client.getToken()).accessToken).toBe('tok-2');
  });

  it('callers with a usable token keep getting it; the background refresh fails quietly and comes back when the cooldown ends', async () => {
    fakeClocks(T0);
    const { handler, seen } = tokenEndpoint((n) => (n === 2 ? tooMany('60') : tokenJson(`tok-${n}`, 3600)));
    server.use(handler);
    const client = makeClient({ refreshJitter: 0 });
    const errors: ErrorEvent[] = [];
    client.on('error', (e) => errors.push(e));
    expect((await client.getToken()).accessToken).toBe('tok-1');

    advanceTo(T0 + 2_856_000); // refresh due
    expect((await client.getToken()).accessToken).toBe('tok-1');
    await waitUntil(() => seen.length === 2);
    // Each call within the cooldown is served the token; none sends a request.
    for (const t of [1_000, 30_000, 59_000]) {
      advanceTo(T0 + 2_856_000 + t);
      expect((await client.getToken()).accessToken).toBe('tok-1');
    }
    expect(seen).toHaveLength(2);
    expect(errors.map((e) => e.error.code)).not.toContain('COOLDOWN');

    advanceTo(T0 + 2_856_000 + 60_500);
    expect((await client.getToken()).accessToken).toBe('tok-1');
    await waitUntil(() => seen.length === 3);
    await waitUntil(async () => (await client.getToken()).accessToken === 'tok-3');
  });
});

describe('cooldown shared through the store', () => {
  it('a 429 seen by one client stops every client sharing the MemoryTokenStore', async () => {
    fakeClocks(T0);
    server.use(firstThen(() => tooMany('3')).handler);
    const store = new MemoryTokenStore();
    const a = deliveringFetch();
    const b = deliveringFetch();
    const clientA = makeClient({ store, fetch: a.fetch });
    const clientB = makeClient({ store, fetch: b.fetch });
    expect((await rejectionOf(clientA.getToken())).status).toBe(429);
    const refused = await rejectionOf(clientB.getToken());
    expect(refused.code).toBe('COOLDOWN');
    expect(refused.retryAfter).toBe(3000);
    expect(b.state.calls).toBe(0);
    advanceTo(T0 + 3000);
    expect((await clientB.getToken()).accessToken).toBe('tok-2');
  });

  it("another client's background refresh refused by the shared cooldown fails quietly (no error event) and serves its token", async () => {
    fakeClocks(T0);
    const { handler, seen } = tokenEndpoint((n) => (n === 2 ? tooMany('60') : tokenJson(`tok-${n}`, 3600)));
    server.use(handler);
    const store = new MemoryTokenStore();
    const a = makeClient({ store });
    const b = makeClient({ store, refreshJitter: 0 });
    const errors: ErrorEvent[] = [];
    b.on('error', (e) => errors.push(e));
    expect((await b.getToken({ scope: 'b' })).accessToken).toBe('tok-1');
    advanceTo(T0 + 2_856_000); // b's refresh is due
    expect((await rejectionOf(a.getToken({ scope: 'a' }))).status).toBe(429);
    const asked = vi.spyOn(store, 'getCooldown');
    expect((await b.getToken({ scope: 'b' })).accessToken).toBe('tok-1'); // starts the refresh: COOLDOWN
    await waitUntil(() => asked.mock.calls.length > 0);
    await settleIo(10); // the refusal reaches the entry
    expect((await b.getToken({ scope: 'b' })).accessToken).toBe('tok-1');
    expect(seen).toHaveLength(2);
    expect(errors).toEqual([]);
  });

  it('a cooldown read from the store is capped at cooldown.max (a hostile or corrupt entry)', async () => {
    fakeClocks(T0);
    server.use(tokenEndpoint().handler);
    const store = new MemoryTokenStore();
    const client = makeClient({ store, cooldown: { max: 5_000 } });
    // A day-long cooldown under whatever key the client reads.
    const getCooldown = vi.spyOn(store, 'getCooldown').mockImplementation(async () => Date.now() + 86_400_000);
    expect((await rejectionOf(client.getToken())).retryAfter).toBe(5_000);
    expect(getCooldown).toHaveBeenCalled();
  });
});

describe('getToken({ waitForCooldown })', () => {
  it('waits for the cooldown to end, then gets a token', async () => {
    server.use(firstThen(() => tooMany()).handler);
    const client = makeClient({ cooldown: { default429: 150 } });
    await rejectionOf(client.getToken());
    expect((await rejectionOf(client.getToken())).code).toBe('COOLDOWN');
    await expect(client.getToken({ waitForCooldown: true })).resolves.toMatchObject({ accessToken: 'tok-2' });
  });

  it('gives up with ABORTED when its signal ends the wait first', async () => {
    server.use(firstThen(() => tooMany('30')).handler);
    const client = makeClient();
    await rejectionOf(client.getToken());
    const error = await rejectionOf(client.getToken({ waitForCooldown: true, signal: AbortSignal.timeout(50) }));
    expect(error.code).toBe('ABORTED');
  });

  it('without a signal, waits at most cooldown.max in all, then rejects with the last error', async () => {
    const { handler, seen } = tokenEndpoint(() => tooMany());
    server.use(handler);
    const client = makeClient({ cooldown: { max: 1_000, default429: 600 } });
    const error = await rejectionOf(client.getToken({ waitForCooldown: true }));
    expect(error.status).toBe(429);
    // One wait of 600 ms fits into 1 000 ms, a second does not: two requests, never a third.
    expect(seen).toHaveLength(2);
  });
});

describe('the cooldown option', () => {
  it('rejects what is not a non-negative integer of ms, and unknown fields, naming them', () => {
    expect(() => makeClient({ cooldown: { max: -1 } })).toThrow(/cooldown\.max/);
    expect(() => makeClient({ cooldown: { default429: 1.5 } })).toThrow(/cooldown\.default429/);
    expect(() => makeClient({ cooldown: { maxx: 1 } as never })).toThrow(/cooldown\.maxx/);
    expect(() => makeClient({ cooldown: 5 as never })).toThrow(/`cooldown`/);
  });
});
