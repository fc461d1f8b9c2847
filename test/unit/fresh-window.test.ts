/**
 * The fresh window of a client on the process's own clock and timers: once a probe has seen Node's
 * timers run on `performance.now()`, a cached token is handed out without reading the clock until a
 * timer ends the window, and the refresh then starts as it always did. A test that fakes the clock after
 * the window opened expires the token by the faked clock.
 */
import { HttpResponse } from 'msw';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { ClientCredentialsClient, type ClientCredentialsOptions } from '../../src/index.js';
import { systemClock } from '../../src/util/clock.js';
import { advanceTo, fakeClocks, TEST_CLIENT } from '../helpers/core.js';
import { tokenEndpoint, useMswServer } from '../helpers/msw.js';
import { waitUntil } from '../helpers/time.js';

const server = useMswServer();
const clients: ClientCredentialsClient[] = [];
afterEach(async () => {
  vi.useRealTimers();
  await Promise.all(clients.splice(0).map((c) => c.close()));
});

/** A client on the system clock whose reads of it are counted. */
function countingClient(options: Partial<ClientCredentialsOptions> = {}) {
  const now = vi.fn(() => performance.now());
  const client = new ClientCredentialsClient({ ...TEST_CLIENT, ...options } as ClientCredentialsOptions, { ...systemClock, now });
  clients.push(client);
  return { client, now };
}

/** Calls `getToken()` until one call reads no clock: the window is open (bounded: 5 s). */
async function windowOpened(client: ClientCredentialsClient, now: { mock: { calls: unknown[] } }) {
  await waitUntil(
    async () => {
      const before = now.mock.calls.length;
      await client.getToken();
      return now.mock.calls.length === before;
    },
    { interval: 5, what: 'a call that reads no clock' },
  );
}

describe('the fresh window, on the real clock', () => {
  it('opens once the probe saw a timer run, and ends at the refresh instant: the next call starts the refresh', async () => {
    const endpoint = tokenEndpoint((n) => HttpResponse.json({ access_token: `tok-${n}`, token_type: 'Bearer', expires_in: 60 }));
    server.use(endpoint.handler);
    // A 60 s token, margin 100 ms, refreshed after 1 % of its usable life: a window of about 0.6 s.
    const { client, now } = countingClient({ expiryMargin: 100, refreshRatio: 0.01, refreshJitter: 0 });
    const first = await client.getToken();
    await windowOpened(client, now);
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
    const { client, now } = countingClient({ refreshJitter: 0 });
    expect((await client.getToken()).accessToken).toBe('tok-1');
    await windowOpened(client, now);
    // The faked performance.now() starts at 0: move it past the real reading the token was dated by.
    const dated = performance.now();
    fakeClocks(Date.now());
    advanceTo(Date.now() + dated + 3_600_000);
    expect((await client.getToken()).accessToken).toBe('tok-2');
    expect(endpoint.seen).toHaveLength(2);
  });
});
