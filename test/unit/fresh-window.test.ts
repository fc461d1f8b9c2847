/**
 * The fresh window of a client on the process's own clock and timers: a cached token is handed out
 * without reading the clock until Node's timer ends the window, and the refresh then starts as it always
 * did. A test that fakes the clock after a token was cached expires it by the faked clock.
 */
import { HttpResponse } from 'msw';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { advanceTo, fakeClocks, useClients } from '../helpers/core.js';
import { tokenEndpoint, useMswServer } from '../helpers/msw.js';
import { waitUntil } from '../helpers/time.js';

const server = useMswServer();
const makeClient = useClients();

afterEach(() => {
  vi.useRealTimers();
});

describe('the fresh window, on the real clock', () => {
  it('ends at the refresh instant (a timer): the next call starts the background refresh', async () => {
    const endpoint = tokenEndpoint((n) => HttpResponse.json({ access_token: `tok-${n}`, token_type: 'Bearer', expires_in: 7 }));
    server.use(endpoint.handler);
    // A 7 s token, margin 100 ms, refreshed after a tenth of its usable life: a window of 0.69 s.
    const client = makeClient({ expiryMargin: 100, refreshRatio: 0.1, refreshJitter: 0 });
    const first = await client.getToken();
    expect(await client.getToken()).toBe(first);
    expect(endpoint.seen).toHaveLength(1);
    await waitUntil(
      async () => {
        await client.getToken();
        return endpoint.seen.length === 2;
      },
      { timeout: 5_000, interval: 20, what: 'the background refresh after the window' },
    );
  });

  it('is not trusted once a test fakes the clock: the token cached before expires by the faked clock', async () => {
    const endpoint = tokenEndpoint();
    server.use(endpoint.handler);
    const client = makeClient({ refreshJitter: 0 });
    expect((await client.getToken()).accessToken).toBe('tok-1');
    fakeClocks(Date.now());
    advanceTo(Date.now() + 3_600_000);
    expect((await client.getToken()).accessToken).toBe('tok-2');
    expect(endpoint.seen).toHaveLength(2);
  });
});
