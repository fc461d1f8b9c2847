/**
 * A token that arrives late (a busy machine, a slow network): inside its expiry margin but not yet
 * expired, it is handed to the callers that waited for it; already expired, it is one retryable
 * failure. Time is simulated with faked clocks (`Date`, `performance.now()`, `process.hrtime`: whichever
 * the client measures time with) that the custom `fetch` moves forward while the request is "in
 * flight", so nothing depends on real timing. Timers are not faked.
 */
import { afterEach, describe, expect, it, vi } from 'vitest';
import { ClientCredentialsClient, TokenError } from '../../src/index.js';
import { SECRET, rejectionOf } from '../helpers/core.js';

const TOKEN_URL = 'https://auth.example.com/oauth2/token';
/** Only the clocks are faked; `vi.advanceTimersByTime` moves them all together. */
const CLOCKS = ['Date', 'performance', 'hrtime'] as const;

function tokenResponse(accessToken: string, expiresIn: number): Response {
  return new Response(JSON.stringify({ access_token: accessToken, token_type: 'Bearer', expires_in: expiresIn }), {
    status: 200,
    headers: { 'content-type': 'application/json' },
  });
}

/**
 * A token endpoint as a `fetch`: the n-th request (1-based) is answered by `answer(n)`, which may move
 * the faked clock forward first to simulate the time the request took.
 */
function lateEndpoint(answer: (n: number) => Response) {
  const state = { calls: 0 };
  const fetch: typeof globalThis.fetch = async () => {
    state.calls++;
    return answer(state.calls);
  };
  return { fetch, state };
}

const clients: ClientCredentialsClient[] = [];
function makeClient(fetch: typeof globalThis.fetch, retry: ConstructorParameters<typeof ClientCredentialsClient>[0]['retry'] = false) {
  const client = new ClientCredentialsClient({ tokenEndpoint: TOKEN_URL, clientId: 'svc-a', clientSecret: SECRET, retry, fetch });
  clients.push(client);
  return client;
}

describe('a token that arrives late', () => {
  afterEach(async () => {
    vi.useRealTimers();
    await Promise.all(clients.splice(0).map((c) => c.close()));
  });

  it('inside its expiry margin but not expired: is handed to every caller that waited for it, and not cached for later callers', async () => {
    vi.useFakeTimers({ toFake: [...CLOCKS], now: 1_700_000_000_000 });
    // expires_in 2 s: the margin is a tenth of the lifetime (200 ms), so the token is usable until
    // sentAt + 1800 ms. The first answer arrives at sentAt + 1900 ms: 100 ms before real expiry.
    const endpoint = lateEndpoint((n) => {
      if (n === 1) {
        vi.advanceTimersByTime(1_900);
        return tokenResponse('late-1', 2);
      }
      return tokenResponse(`fresh-${n}`, 3600);
    });
    const client = makeClient(endpoint.fetch);

    const waiting = await Promise.allSettled([client.getToken(), client.getToken(), client.getToken()]);
    // Today: rejected with INVALID_RESPONSE "token for svc-a expired before it could be used".
    for (const outcome of waiting) {
      expect(outcome.status, outcome.status === 'rejected' ? String((outcome.reason as Error).message) : '').toBe('fulfilled');
      if (outcome.status === 'fulfilled') expect(outcome.value.accessToken).toBe('late-1');
    }
    expect(endpoint.state.calls).toBe(1);

    // At the same instant (100 ms before its real expiry, past expiry minus any skew of 100 ms or
    // more), a new caller does not get the late token: a new one is requested.
    const next = await client.getToken();
    expect(next.accessToken).toBe('fresh-2');
    expect(endpoint.state.calls).toBe(2);
  });

  it('already expired when it arrives: is one retryable failure, and the next attempt’s fresh token is returned', async () => {
    vi.useFakeTimers({ toFake: [...CLOCKS], now: 1_700_000_000_000 });
    // The first request takes 2.5 s of a token that lives 2 s: it arrives expired.
    const endpoint = lateEndpoint((n) => {
      if (n === 1) {
        vi.advanceTimersByTime(2_500);
        return tokenResponse('expired-1', 2);
      }
      return tokenResponse(`fresh-${n}`, 3600);
    });
    const client = makeClient(endpoint.fetch, { retries: 2, minDelay: 1, maxDelay: 1 });
    const retries: string[] = [];
    client.on('retry', (e) => retries.push(e.reason));

    // Today: rejected with INVALID_RESPONSE "expired before it could be used" and no retry.
    const token = await client.getToken();
    expect(token.accessToken).toBe('fresh-2');
    expect(endpoint.state.calls).toBe(2);
    expect(retries).toHaveLength(1);
  });

  it('already expired when it arrives, without retries: rejects with a TokenError and is not handed out', async () => {
    vi.useFakeTimers({ toFake: [...CLOCKS], now: 1_700_000_000_000 });
    const endpoint = lateEndpoint(() => {
      vi.advanceTimersByTime(2_500);
      return tokenResponse('expired', 2);
    });
    const client = makeClient(endpoint.fetch);
    const error = await rejectionOf(client.getToken());
    expect(TokenError.is(error)).toBe(true);
    expect(endpoint.state.calls).toBe(1);
  });
});
