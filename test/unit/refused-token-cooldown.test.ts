/**
 * A resource server that refuses every token (misconfigured audience, a clock far off, a revoked
 * client) must not turn each API call into a token request. After a 401 `invalid_token` for a token
 * and then for the fresh token fetched to replace it, the client stops refreshing that entry for a
 * short while (at least 1 s): calls in that while get the 401 without another token request.
 *
 * The API and the token endpoint are custom `fetch` functions answering at once, and the clocks
 * (`Date`, `performance.now()`, `process.hrtime`) are frozen, so the 50 calls fall within that while
 * however loaded the machine is.
 */
import { afterEach, describe, expect, it, vi } from 'vitest';
import { ClientCredentialsClient } from '../../src/index.js';
import { SECRET } from '../helpers/core.js';

const TOKEN_URL = 'https://auth.example.com/oauth2/token';
const API_URL = 'https://api.example.com/orders';

const clients: ClientCredentialsClient[] = [];
afterEach(async () => {
  vi.useRealTimers();
  await Promise.all(clients.splice(0).map((c) => c.close()));
});

describe('a resource server that refuses every token', () => {
  it('50 sequential client.fetch calls: every caller gets the 401, with at most 3 token requests', async () => {
    vi.useFakeTimers({ toFake: ['Date', 'performance', 'hrtime'] });
    const state = { tokenRequests: 0, apiRequests: 0 };
    const fetch: typeof globalThis.fetch = async (input) => {
      const url = String(input instanceof Request ? input.url : input);
      if (url === TOKEN_URL) {
        state.tokenRequests++;
        return Response.json({ access_token: `tok-${state.tokenRequests}`, token_type: 'Bearer', expires_in: 3600 });
      }
      state.apiRequests++;
      return new Response('no', { status: 401, headers: { 'www-authenticate': 'Bearer error="invalid_token"' } });
    };
    const client = new ClientCredentialsClient({ tokenEndpoint: TOKEN_URL, clientId: 'svc-a', clientSecret: SECRET, retry: false, fetch });
    clients.push(client);

    const statuses: number[] = [];
    for (let i = 0; i < 50; i++) {
      const response = await client.fetch(API_URL);
      statuses.push(response.status);
      await response.body?.cancel();
    }
    expect(statuses).toEqual(Array.from({ length: 50 }, () => 401));
    // Today: 51 token requests (each call drops the refused token and fetches another).
    expect(state.tokenRequests).toBeLessThanOrEqual(3);
    expect(state.apiRequests).toBeGreaterThanOrEqual(50);
  });
});
