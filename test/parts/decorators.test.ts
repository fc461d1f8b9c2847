/**
 * The decorators around the token request, each on its own: the invalid_client fast-fail and the
 * shared store (adopt, lock, share, bypass), with a clock moved by hand and a fake inner acquire.
 */
import { describe, expect, it, vi } from 'vitest';
import { withInvalidClientBackoff } from '../../src/acquire/invalid-client.js';
import { GuardedStore, STORE_BYPASS, withSharedStore } from '../../src/acquire/shared-store.js';
import type { Acquire, AcquireRequest } from '../../src/cache/token-entry.js';
import { OAuthError, type TokenError } from '../../src/errors.js';
import { MemoryTokenStore, type TokenStore } from '../../src/index.js';
import { toStored } from '../../src/token.js';
import { rejectionOf } from '../helpers/core.js';
import { entryUnderTest, handClock, issued } from './support.js';

const invalidClient = () => new OAuthError({ error: 'invalid_client', status: 401 });

function requestFor(entry = entryUnderTest().entry, force = false): AcquireRequest {
  return { entry, background: false, force, isCurrent: () => true };
}

describe('withInvalidClientBackoff', () => {
  it('fails fast with the same error for the backoff after invalid_client, then asks again', async () => {
    const clock = handClock();
    const error = invalidClient();
    const inner = vi.fn<Acquire>().mockRejectedValueOnce(error).mockResolvedValue(issued('a', 0));
    const acquire = withInvalidClientBackoff(inner, 5_000, clock);
    expect(await rejectionOf(acquire(requestFor()))).toBe(error);
    clock.advance(4_999);
    expect(await rejectionOf(acquire(requestFor()))).toBe(error);
    expect(inner).toHaveBeenCalledTimes(1);
    clock.advance(1);
    expect((await acquire(requestFor())).token.accessToken).toBe('a');
  });

  it('does not back off after other failures', async () => {
    const inner = vi
      .fn<Acquire>()
      .mockRejectedValueOnce(new OAuthError({ error: 'invalid_scope', status: 400 }))
      .mockResolvedValue(issued('a', 0));
    const acquire = withInvalidClientBackoff(inner, 5_000, handClock());
    await rejectionOf(acquire(requestFor()));
    expect((await acquire(requestFor())).token.accessToken).toBe('a');
  });
});

describe('withSharedStore', () => {
  const setup = (store: TokenStore = new MemoryTokenStore()) => {
    const clock = handClock();
    const failures: TokenError[] = [];
    const guarded = new GuardedStore(store, clock, (e) => failures.push(e));
    const inner = vi.fn<Acquire>(async () => issued('fresh', clock.now(), 3_600_000, clock.wall()));
    const closer = new AbortController();
    const acquire = withSharedStore(inner, guarded, {
      clock,
      keyOf: (key) => `k:${key}`,
      lockTtl: 1_000,
      expiryMargin: 30_000,
      closed: closer.signal,
      isRevoked: (value) => value === 'revoked',
    });
    return { clock, store, inner, acquire, failures };
  };

  it('adopts a usable token another process stored, with its send time, instead of asking', async () => {
    const { clock, store, inner, acquire } = setup();
    await store.set('k:key', toStored(issued('shared', 0, 3_600_000, clock.wall() - 60_000)), 60_000);
    const got = await acquire(requestFor());
    expect(got.token.accessToken).toBe('shared');
    expect(got.attempts).toBe(0);
    expect(got.sentAt).toBe(-60_000);
    expect(inner).not.toHaveBeenCalled();
  });

  it('asks, and shares what it got, when the store has nothing usable, a revoked token, or on forceRefresh', async () => {
    const { clock, store, inner, acquire } = setup();
    expect((await acquire(requestFor())).token.accessToken).toBe('fresh');
    expect((await store.get('k:key'))?.accessToken).toBe('fresh');
    await store.delete('k:key');
    await store.set('k:key', toStored(issued('revoked', 0, 3_600_000, clock.wall())), 60_000);
    expect((await acquire(requestFor())).token.accessToken).toBe('fresh');
    expect((await acquire(requestFor(undefined, true))).token.accessToken).toBe('fresh');
    expect(inner).toHaveBeenCalledTimes(3);
  });

  it('does not adopt a stored token within its margin', async () => {
    const { clock, store, acquire } = setup();
    await store.set('k:key', toStored(issued('old', 0, 3_600_000, clock.wall() - 3_600_000 + 20_000)), 60_000);
    expect((await acquire(requestFor())).token.accessToken).toBe('fresh');
  });

  it('bypasses a failing store for STORE_BYPASS (one failure reported) and still gets a token', async () => {
    const broken: TokenStore = {
      get: async () => {
        throw new Error('down');
      },
      set: async () => {
        throw new Error('down');
      },
      delete: async () => {},
    };
    const { clock, acquire, failures } = setup(broken);
    expect((await acquire(requestFor())).token.accessToken).toBe('fresh');
    expect(failures).toHaveLength(1);
    clock.advance(STORE_BYPASS - 1);
    await acquire(requestFor());
    expect(failures).toHaveLength(1);
    clock.advance(1);
    await acquire(requestFor());
    expect(failures).toHaveLength(2);
  });
});
