/** The schedule of a token's life: pure arithmetic, tested directly. */
import { describe, expect, it } from 'vitest';
import { LATE_SKEW, retryAfterFailure, schedule } from '../../src/cache/schedule.js';

const policy = { expiryMargin: 30_000, refreshRatio: 0.8, refreshJitter: 0.05, maxRetryDelay: 10_000 };
const HOUR = 3_600_000;

describe('schedule', () => {
  it('is usable until expiry minus the margin, and refreshed after refreshRatio of that usable life', () => {
    expect(schedule(1_000, HOUR, 1_000, policy, 0)).toEqual({
      usableUntil: 1_000 + HOUR - 30_000,
      refreshAt: 1_000 + 0.8 * (HOUR - 30_000),
    });
  });

  it('shrinks the margin to a tenth of the lifetime for short tokens', () => {
    expect(schedule(0, 60_000, 0, policy, 0).usableUntil).toBe(54_000);
  });

  it('moves the refresh earlier by up to refreshJitter × lifetime, never before the request was sent', () => {
    expect(schedule(0, HOUR, 0, policy, 1).refreshAt).toBe(0.8 * (HOUR - 30_000) - 0.05 * HOUR);
    expect(schedule(0, 1_000, 0, { ...policy, refreshRatio: 0, refreshJitter: 0.5 }, 1).refreshAt).toBe(0);
  });

  it('keeps a token that arrived inside its margin until LATE_SKEW before its real expiry, refresh due at once', () => {
    // Sent at 0, lives 10 s (margin 1 s), arrives at 9.5 s: past usable, not expired.
    expect(schedule(0, 10_000, 9_500, policy, 0)).toEqual({ usableUntil: 9_000, refreshAt: 9_500 });
    // A long-lived token that arrives 20 s before expiry: kept until 1 s before it.
    expect(schedule(0, HOUR, HOUR - 20_000, policy, 0)).toEqual({ usableUntil: HOUR - LATE_SKEW, refreshAt: HOUR - 20_000 });
    // Arriving exactly at the end of its usable life is arriving late.
    expect(schedule(0, 10_000, 9_000, policy, 0)).toEqual({ usableUntil: 9_000, refreshAt: 9_000 });
    // A 5 s token: the skew shrinks to a tenth of the lifetime too; arriving past that, it is not kept.
    expect(schedule(0, 5_000, 4_600, policy, 0)).toEqual({ usableUntil: 4_500, refreshAt: 4_600 });
  });

  it('pauses a quarter of the usable time left after a failed refresh, between 10 ms and maxRetryDelay', () => {
    expect(retryAfterFailure(0, 8_000, policy)).toBe(2_000);
    expect(retryAfterFailure(0, 20, policy)).toBe(10);
    expect(retryAfterFailure(0, HOUR, policy)).toBe(10_000);
    expect(retryAfterFailure(1_000, 9_000, policy)).toBe(3_000);
  });

  it('refreshes at the server hint (refresh_in) less jitter, ignoring a hint at or past the usable life or below zero', () => {
    expect(schedule(1_000, HOUR, 1_000, policy, 0, 60_000).refreshAt).toBe(61_000);
    expect(schedule(1_000, HOUR, 1_000, policy, 1, 600_000).refreshAt).toBe(1_000 + 600_000 - 0.05 * HOUR);
    const plain = schedule(1_000, HOUR, 1_000, policy, 0).refreshAt;
    // Usable until 1_000 + HOUR - 30_000: a hint there or later would make callers wait.
    expect(schedule(1_000, HOUR, 1_000, policy, 0, HOUR - 30_000).refreshAt).toBe(plain);
    expect(schedule(1_000, HOUR, 1_000, policy, 0, HOUR - 30_001).refreshAt).toBe(HOUR - 29_001);
    expect(schedule(1_000, HOUR, 1_000, policy, 0, -1).refreshAt).toBe(plain);
    expect(schedule(1_000, HOUR, 1_000, policy, 0, 0).refreshAt).toBe(1_000);
  });

  it('after a refusal that names its wait, tries again then, but never later than 10 ms before the end of the usable life', () => {
    expect(retryAfterFailure(1_000, HOUR, policy, 5_000)).toBe(6_000);
    expect(retryAfterFailure(1_000, 4_000, policy, 5_000)).toBe(3_990);
    // Already within 10 ms of the end: at once.
    expect(retryAfterFailure(1_000, 1_005, policy, 5_000)).toBe(1_000);
    // A wait of 0 (or none) is the ordinary pause.
    expect(retryAfterFailure(0, 8_000, policy, 0)).toBe(2_000);
  });
});
