/**
 * The issuance budget: at most `limit` token requests per `per` ms, counted in the store when it counts
 * (fleet-wide) or per client. At the limit: the current token is still served, new requests are refused
 * with BUDGET, and `budget` events warn from 80 % on.
 */
import { afterEach, describe, expect, it, vi } from 'vitest';
import { type BudgetEvent, MemoryTokenStore } from '../../src/index.js';
import { tokenEndpoint, useMswServer } from '../helpers/msw.js';
import { advanceTo, fakeClocks, rejectionOf, tokenJson, useClients } from '../helpers/core.js';
import { waitUntil } from '../helpers/time.js';

const server = useMswServer();
const makeClient = useClients();
const T0 = Date.UTC(2030, 0, 1, 12, 0, 0);
afterEach(() => vi.useRealTimers());

describe('issuance budget', () => {
  it('sends exactly `limit` token requests in a window, refuses the next with BUDGET and the time until the window ends', async () => {
    fakeClocks(T0);
    const { handler, seen } = tokenEndpoint();
    server.use(handler);
    const client = makeClient({ budget: { limit: 5, per: 60_000 } });
    for (let i = 1; i <= 5; i++) expect((await client.getToken({ forceRefresh: true })).accessToken).toBe(`tok-${i}`);
    advanceTo(T0 + 10_000);
    const refused = await rejectionOf(client.getToken({ forceRefresh: true }));
    expect(refused.code).toBe('BUDGET');
    expect(refused.retryAfter).toBe(50_000);
    expect(seen).toHaveLength(5);
    // The current token is still handed out.
    expect((await client.getToken()).accessToken).toBe('tok-5');
    // A new window, a new budget.
    advanceTo(T0 + 60_000);
    expect((await client.getToken({ forceRefresh: true })).accessToken).toBe('tok-6');
  });

  it('warns with a budget event from 80 % of the budget on, and reports the refusal as exhausted', async () => {
    server.use(tokenEndpoint().handler);
    const client = makeClient({ budget: { limit: 5, per: 60_000 } });
    const events: BudgetEvent[] = [];
    client.on('budget', (e) => events.push(e));
    for (let i = 1; i <= 3; i++) await client.getToken({ forceRefresh: true });
    expect(events).toEqual([]);
    await client.getToken({ forceRefresh: true });
    expect(events).toEqual([{ clientId: 'svc-a', used: 4, limit: 5, per: 60_000, exhausted: false }]);
    await client.getToken({ forceRefresh: true });
    await rejectionOf(client.getToken({ forceRefresh: true }));
    expect(events.slice(1)).toEqual([
      { clientId: 'svc-a', used: 5, limit: 5, per: 60_000, exhausted: false },
      { clientId: 'svc-a', used: 5, limit: 5, per: 60_000, exhausted: true },
    ]);
  });

  it('is shared by the clients of one store: together they send at most `limit`', async () => {
    const { handler, seen } = tokenEndpoint();
    server.use(handler);
    const store = new MemoryTokenStore();
    const a = makeClient({ store, budget: { limit: 3, per: 60_000 } });
    const b = makeClient({ store, budget: { limit: 3, per: 60_000 } });
    await a.getToken({ forceRefresh: true });
    await b.getToken({ forceRefresh: true });
    await a.getToken({ forceRefresh: true });
    expect((await rejectionOf(b.getToken({ forceRefresh: true }))).code).toBe('BUDGET');
    expect(seen).toHaveLength(3);
  });

  it('a background refresh refused by the budget keeps serving the token and tries again when the window ends', async () => {
    fakeClocks(T0);
    const { handler, seen } = tokenEndpoint((n) => tokenJson(`tok-${n}`, 3600));
    server.use(handler);
    const client = makeClient({ refreshJitter: 0, budget: { limit: 1, per: 3_000_000 } });
    expect((await client.getToken()).accessToken).toBe('tok-1');
    advanceTo(T0 + 2_856_000); // refresh due: refused by the budget
    expect((await client.getToken()).accessToken).toBe('tok-1');
    advanceTo(T0 + 2_900_000);
    expect((await client.getToken()).accessToken).toBe('tok-1');
    expect(seen).toHaveLength(1);
    advanceTo(T0 + 3_000_000); // the window ends: the refresh goes out
    expect((await client.getToken()).accessToken).toBe('tok-1');
    await waitUntil(() => seen.length === 2);
  });

  it('rejects an invalid budget option, naming the field', () => {
    expect(() => makeClient({ budget: { limit: 0, per: 1000 } })).toThrow(/budget\.limit/);
    expect(() => makeClient({ budget: { limit: 1, per: 0 } })).toThrow(/budget\.per/);
    expect(() => makeClient({ budget: { limit: 1 } as never })).toThrow(/budget\.per/);
    expect(() => makeClient({ budget: { limit: 1, per: 1, every: 2 } as never })).toThrow(/budget\.every/);
  });
});
