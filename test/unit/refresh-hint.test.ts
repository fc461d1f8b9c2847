/**
 * Server refresh hints: `refresh_in` (seconds, Microsoft Entra) in a token response sets when the
 * background refresh starts, bounded by the token's usable life. `schedule()` is pure: tested directly;
 * then end to end through a client, with the clocks faked.
 */
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { type SchedulePolicy, retryAfterFailure, schedule } from '../../src/cache/schedule.js';
import { refreshInOf } from '../../src/protocol/token-response.js';
import { tokenEndpoint, useMswServer } from '../helpers/msw.js';
import { advanceTo, deliveringFetch, fakeClocks, tokenJson, useClients } from '../helpers/core.js';
import { waitUntil } from '../helpers/time.js';

const POLICY: SchedulePolicy = { expiryMargin: 30_000, refreshRatio: 0.8, refreshJitter: 0.05, maxRetryDelay: 10_000 };
const HOUR = 3_600_000;

describe('schedule() with a refresh hint', () => {
  it('without a hint, the refresh is due at refreshRatio of the usable life (no jitter drawn)', () => {
    expect(schedule(0, HOUR, 0, POLICY, 0)).toEqual({ usableUntil: HOUR - 30_000, refreshAt: 0.8 * (HOUR - 30_000) });
  });

  it('refresh_in sets the refresh instant, earlier than the ratio would', () => {
    expect(schedule(0, HOUR, 0, POLICY, 0, 1_800_000).refreshAt).toBe(1_800_000);
  });

  it('refresh_in sets the refresh instant later than the ratio too, while it is within the usable life', () => {
    expect(schedule(0, HOUR, 0, POLICY, 0, 3_500_000).refreshAt).toBe(3_500_000);
  });

  it('the jitter still moves a hinted refresh earlier, by up to refreshJitter of the lifetime', () => {
    expect(schedule(0, HOUR, 0, POLICY, 1, 1_800_000).refreshAt).toBe(1_800_000 - 0.05 * HOUR);
  });

  it('a hint at or past the end of the usable life is ignored (callers would wait at expiry)', () => {
    const ratio = schedule(0, HOUR, 0, POLICY, 0).refreshAt;
    expect(schedule(0, HOUR, 0, POLICY, 0, HOUR - 30_000).refreshAt).toBe(ratio);
    expect(schedule(0, HOUR, 0, POLICY, 0, 10 * HOUR).refreshAt).toBe(ratio);
  });

  it('a hint of 0 makes the refresh due at once; never before the request was sent', () => {
    expect(schedule(1000, HOUR, 1000, POLICY, 1, 0).refreshAt).toBe(1000);
  });

  it('the usable life is the same with or without a hint', () => {
    expect(schedule(0, HOUR, 0, POLICY, 0, 60_000).usableUntil).toBe(HOUR - 30_000);
  });
});

describe('retryAfterFailure() with a wait named by the refusal', () => {
  it('comes back when the cooldown or budget window ends, instead of a quarter of the usable time left', () => {
    expect(retryAfterFailure(0, 100_000, POLICY)).toBe(10_000);
    expect(retryAfterFailure(0, 100_000, POLICY, 2_000)).toBe(2_000);
    expect(retryAfterFailure(0, 100_000, POLICY, 30_000)).toBe(30_000);
  });

  it('never past the end of the usable life', () => {
    expect(retryAfterFailure(0, 100_000, POLICY, 500_000)).toBe(100_000 - 10);
  });
});

describe('refreshInOf(): the refresh_in member of a token response', () => {
  it('reads seconds as a number or a numeric string, in ms', () => {
    expect(refreshInOf({ refresh_in: 1800 })).toBe(1_800_000);
    expect(refreshInOf({ refresh_in: '1800' })).toBe(1_800_000);
  });

  it('ignores an absent or malformed hint', () => {
    for (const refresh_in of [undefined, null, -5, 'soon', '1e3', {}, 1e13]) expect(refreshInOf({ refresh_in })).toBeUndefined();
  });
});

describe('a client given refresh_in', () => {
  const server = useMswServer();
  const makeClient = useClients();
  const T0 = Date.UTC(2030, 0, 1, 12, 0, 0);
  beforeEach(() => fakeClocks(T0));
  afterEach(() => vi.useRealTimers());

  it('starts the background refresh at refresh_in, not at refreshRatio of the lifetime', async () => {
    server.use(tokenEndpoint((n) => tokenJson(`tok-${n}`, 3600, { refresh_in: 600 })).handler);
    const { fetch, state } = deliveringFetch();
    const client = makeClient({ fetch, refreshJitter: 0 });
    expect((await client.getToken()).accessToken).toBe('tok-1');

    advanceTo(T0 + 599_000);
    expect((await client.getToken()).accessToken).toBe('tok-1');
    expect(state.calls).toBe(1);

    advanceTo(T0 + 600_000);
    expect((await client.getToken()).accessToken).toBe('tok-1'); // served while the refresh runs
    await waitUntil(() => state.delivered === 2);
    await waitUntil(async () => (await client.getToken()).accessToken === 'tok-2');
  });
});
