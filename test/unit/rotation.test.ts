import { HttpResponse } from 'msw';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { TokenError } from '../../src/index.js';
import { tokenEndpoint, useMswServer } from '../helpers/msw.js';
import {
  advanceTo,
  deliveringFetch,
  fakeClocks,
  heldEndpoint,
  rejectionOf,
  settleIo,
  stateOf,
  tokenJson,
  useClients,
  within,
} from '../helpers/core.js';
import { waitUntil } from '../helpers/time.js';

const server = useMswServer();
const makeClient = useClients();

/**
 * A client whose requests are counted the moment it starts them (`state.calls`), so that "no request
 * was started" can be asserted without waiting for the mock server to see one.
 */
function countingClient(options: Parameters<typeof makeClient>[0] = {}) {
  const { fetch, state } = deliveringFetch();
  return { client: makeClient({ ...options, fetch }), state };
}

const T0 = Date.UTC(2030, 0, 1, 12, 0, 0);
// With the defaults and expires_in 3600: lifetime 3 600 000 ms, margin min(30 000, 360 000) = 30 000,
// usable until T0 + 3 570 000, background refresh due at T0 + 0.8 × 3 570 000 = T0 + 2 856 000.
const HOUR = 3_600_000;
const USABLE_UNTIL = T0 + HOUR - 30_000;
const REFRESH_AT = T0 + 2_856_000;

// Only the clocks are faked: msw and the client's timers keep running on real time; rotation is driven
// by the monotonic clock, moved forward with advanceTo.
beforeEach(() => {
  fakeClocks(T0);
});
afterEach(() => {
  vi.useRealTimers();
});

describe('rotation', () => {
  it('serves the cached token without any request until the refresh is due', async () => {
    server.use(tokenEndpoint().handler);
    const { client, state } = countingClient({ refreshJitter: 0 });
    const first = await client.getToken();
    expect(first.expiresAt).toBe(T0 + HOUR);
    advanceTo(REFRESH_AT - 1);
    expect(await client.getToken()).toBe(first);
    await settleIo();
    expect(state.calls).toBe(1);
  });

  it('once refreshRatio of the usable lifetime has passed, returns the current token at once and refreshes once in the background', async () => {
    const held = heldEndpoint();
    server.use(held.handler);
    const { client, state } = countingClient({ refreshJitter: 0 });
    const pending = client.getToken();
    (await held.arrived(1)).respond(tokenJson('tok-1', 3600));
    const first = await pending;

    advanceTo(REFRESH_AT);
    // The refresh request is held: callers must not wait for it.
    const during = await within(Promise.all(Array.from({ length: 20 }, () => client.getToken())), 1000);
    for (const t of during) expect(t).toBe(first);
    // The background refresh starts on the next turn of the event loop, once.
    await waitUntil(() => expect(state.calls).toBe(2));
    const refresh = await held.arrived(2);
    expect(await within(client.getToken(), 1000)).toBe(first);
    expect(state.calls).toBe(2);

    refresh.respond(tokenJson('tok-2', 3600));
    await waitUntil(async () => expect((await client.getToken()).accessToken).toBe('tok-2'));
    expect(state.calls).toBe(2);
  });

  it('never hands out a token at expiresAt − margin: the caller waits for a new one', async () => {
    const held = heldEndpoint();
    server.use(held.handler);
    const client = makeClient({ refreshJitter: 0 });
    const pending = client.getToken();
    (await held.arrived(1)).respond(tokenJson('tok-1', 3600));
    await pending;

    advanceTo(USABLE_UNTIL);
    const call = client.getToken();
    const second = await held.arrived(2);
    expect(await stateOf(call)).toBe('pending');
    second.respond(tokenJson('tok-2', 3600));
    expect((await call).accessToken).toBe('tok-2');
  });

  it('still hands out the current token 1 ms before expiresAt − margin', async () => {
    const held = heldEndpoint();
    server.use(held.handler);
    const client = makeClient({ refreshJitter: 0 });
    const pending = client.getToken();
    (await held.arrived(1)).respond(tokenJson('tok-1', 3600));
    const first = await pending;

    advanceTo(USABLE_UNTIL - 1);
    expect(await within(client.getToken(), 1000)).toBe(first);
    await held.arrived(2); // and it started the overdue refresh
  });

  it('shrinks the margin to a tenth of the lifetime for short-lived tokens', async () => {
    server.use(tokenEndpoint((n) => tokenJson(`tok-${n}`, 60)).handler);
    // refreshRatio 1: no background refresh before the margin, so only the margin decides.
    const { client, state } = countingClient({ refreshJitter: 0, refreshRatio: 1 });
    const first = await client.getToken();
    advanceTo(T0 + 60_000 - 6_000 - 1);
    expect(await client.getToken()).toBe(first);
    await settleIo();
    expect(state.calls).toBe(1);
    advanceTo(T0 + 60_000 - 6_000);
    expect((await client.getToken()).accessToken).toBe('tok-2');
    expect(state.calls).toBe(2);
  });

  it('keeps serving the current token when the background refresh fails, and retries the refresh on a later call', async () => {
    const held = heldEndpoint();
    server.use(held.handler);
    const { fetch, state } = deliveringFetch();
    const client = makeClient({ refreshJitter: 0, fetch }); // retry: false → maxDelay stays 10 000
    const pending = client.getToken();
    (await held.arrived(1)).respond(tokenJson('tok-1', 3600));
    const first = await pending;

    advanceTo(REFRESH_AT);
    expect(await within(client.getToken(), 1000)).toBe(first);
    (await held.arrived(2)).respond(new HttpResponse('unavailable', { status: 503 }));
    // Let the failure land.
    await waitUntil(() => expect(state.delivered).toBe(2));
    await settleIo();

    // Right after the failure and for the pause after it: still the current token, and no hammering of
    // the server. A background refresh starts on a later turn, so each call is given the turns it needs
    // to start one before the requests are counted.
    for (const at of [REFRESH_AT, REFRESH_AT + 1, REFRESH_AT + 5_000, REFRESH_AT + 9_999]) {
      advanceTo(at);
      expect(await within(client.getToken(), 1000)).toBe(first);
      await settleIo();
    }
    expect(state.calls).toBe(2);

    // A little later a call tries again, still without waiting.
    advanceTo(REFRESH_AT + 10_001);
    expect(await within(client.getToken(), 1000)).toBe(first);
    (await held.arrived(3)).respond(tokenJson('tok-3', 3600));
    await waitUntil(async () => expect((await client.getToken()).accessToken).toBe('tok-3'));
    expect(state.calls).toBe(3);
  });

  it('when every refresh fails, serves the current token up to its margin and then reports the failure', async () => {
    const { handler, seen } = tokenEndpoint((n) =>
      n === 1 ? tokenJson('tok-1', 3600) : HttpResponse.json({ error: 'temporarily_unavailable' }, { status: 503 }),
    );
    server.use(handler);
    const client = makeClient({ refreshJitter: 0 });
    const first = await client.getToken();

    advanceTo(USABLE_UNTIL - 1);
    expect(await client.getToken()).toBe(first);
    await waitUntil(() => expect(seen).toHaveLength(2));

    advanceTo(USABLE_UNTIL);
    const error = await rejectionOf(client.getToken());
    expect(TokenError.is(error)).toBe(true);
    expect(error.code).toBe('OAUTH_ERROR');
    expect(error.status).toBe(503);
  });
});

describe('rotation options', () => {
  it('expiryMargin moves the point after which the token is no longer handed out', async () => {
    const { handler, seen } = tokenEndpoint();
    server.use(handler);
    const client = makeClient({ refreshJitter: 0, refreshRatio: 1, expiryMargin: 120_000 });
    const first = await client.getToken();
    advanceTo(T0 + HOUR - 120_000 - 1);
    expect(await client.getToken()).toBe(first);
    advanceTo(T0 + HOUR - 120_000);
    expect((await client.getToken()).accessToken).toBe('tok-2');
    expect(seen).toHaveLength(2);
  });

  it('expiryMargin 0 hands the token out until its expiry', async () => {
    const { handler, seen } = tokenEndpoint();
    server.use(handler);
    const client = makeClient({ refreshJitter: 0, refreshRatio: 1, expiryMargin: 0 });
    const first = await client.getToken();
    advanceTo(T0 + HOUR - 1);
    expect(await client.getToken()).toBe(first);
    advanceTo(T0 + HOUR);
    expect((await client.getToken()).accessToken).toBe('tok-2');
    expect(seen).toHaveLength(2);
  });

  it('refreshRatio moves the start of the background refresh', async () => {
    server.use(tokenEndpoint().handler);
    const { client, state } = countingClient({ refreshJitter: 0, refreshRatio: 0.5 });
    const first = await client.getToken();
    const due = T0 + 0.5 * (HOUR - 30_000);
    advanceTo(due - 1);
    expect(await client.getToken()).toBe(first);
    await settleIo();
    expect(state.calls).toBe(1);
    advanceTo(due);
    expect(await client.getToken()).toBe(first);
    await waitUntil(() => expect(state.calls).toBe(2));
  });

  it('defaultLifetime is the lifetime of a token sent without expires_in', async () => {
    const { handler, seen } = tokenEndpoint((n) => tokenJson(`tok-${n}`, null));
    server.use(handler);
    const client = makeClient({ refreshJitter: 0, refreshRatio: 1, defaultLifetime: 120_000 });
    const first = await client.getToken();
    expect(first.expiresAt).toBe(T0 + 120_000);
    // margin = min(30 000, 12 000)
    advanceTo(T0 + 108_000 - 1);
    expect(await client.getToken()).toBe(first);
    advanceTo(T0 + 108_000);
    expect((await client.getToken()).accessToken).toBe('tok-2');
    expect(seen).toHaveLength(2);
  });

  it('refreshJitter starts the background refresh earlier by up to refreshJitter × lifetime, at random', async () => {
    // A fake fetch (not msw) so that mocking Math.random cannot disturb the mock server.
    const probe = async (random: number) => {
      vi.setSystemTime(T0);
      let requests = 0;
      const fetch = vi.fn(async () => {
        requests++;
        return Response.json({ access_token: `tok-${requests}`, token_type: 'Bearer', expires_in: 3600 });
      });
      const spy = vi.spyOn(Math, 'random').mockReturnValue(random);
      const client = makeClient({ fetch, refreshJitter: 0.05 });
      try {
        await client.getToken();
        // Unjittered refresh at T0 + 2 856 000; with random 0.999 it is 0.999 × 0.05 × 3 600 000 = 179 820 ms earlier.
        advanceTo(T0 + 2_700_000);
        await client.getToken();
        await settleIo();
        const early = requests;
        advanceTo(REFRESH_AT);
        await client.getToken();
        await settleIo();
        return { early, due: requests };
      } finally {
        spy.mockRestore();
        await client.close();
      }
    };
    expect(await probe(0)).toEqual({ early: 1, due: 2 });
    expect(await probe(0.999)).toEqual({ early: 2, due: 2 });
  });
});
