/**
 * TokenEntry with a clock moved by hand and an acquire function the test settles: rotation, single
 * flight, invalidation and failure rules, without HTTP.
 */
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { describe, expect, it, vi } from 'vitest';
import { REFUSAL_PAUSE } from '../../src/cache/token-entry.js';
import { TokenError } from '../../src/errors.js';
import { rejectionOf } from '../helpers/core.js';
import { entryUnderTest, handClock, issued, settle } from './support.js';

const HOUR = 3_600_000;
const USABLE = HOUR - 30_000;
const REFRESH = 0.8 * USABLE;

describe('TokenEntry', () => {
  it('is empty at first: callers share one acquire call, then the token is served without another', async () => {
    const { entry, calls } = entryUnderTest();
    expect(entry.isUsable(0)).toBe(false);
    const waiting = [entry.get(undefined, false), entry.get(undefined, false)];
    expect(calls).toHaveLength(1);
    expect(entry.isRefreshing()).toBe(true);
    calls[0]!.resolve(issued('a', 0));
    const [first, second] = await Promise.all(waiting);
    expect(first!.accessToken).toBe('a');
    expect(second).toBe(first);
    expect(await entry.get(undefined, false)).toBe(first);
    expect(calls).toHaveLength(1);
    expect(entry.isRefreshing()).toBe(false);
  });

  it('starts one background refresh at refreshAt (on the next turn), serving the current token meanwhile', async () => {
    const { entry, calls, clock } = entryUnderTest();
    const pending = entry.get(undefined, false);
    calls[0]!.resolve(issued('a', 0));
    const first = await pending;
    clock.advance(REFRESH - 1);
    expect(entry.shouldRefresh(clock.now())).toBe(false);
    await entry.get(undefined, false);
    await settle();
    expect(calls).toHaveLength(1);
    clock.advance(1);
    expect(entry.shouldRefresh(clock.now())).toBe(true);
    expect(await entry.get(undefined, false)).toBe(first);
    expect(await entry.get(undefined, false)).toBe(first);
    expect(calls).toHaveLength(1);
    await settle();
    expect(calls).toHaveLength(2);
    expect(calls[1]!.request.background).toBe(true);
    expect(calls[1]!.request.force).toBe(false);
    calls[1]!.resolve(issued('b', clock.now()));
    await settle();
    expect((await entry.get(undefined, false)).accessToken).toBe('b');
  });

  it('never hands out a token at usableUntil: the caller waits for a new one', async () => {
    const { entry, calls, clock } = entryUnderTest();
    const pending = entry.get(undefined, false);
    calls[0]!.resolve(issued('a', 0));
    await pending;
    clock.advance(USABLE);
    const next = entry.get(undefined, false);
    expect(calls).toHaveLength(2);
    expect(calls[1]!.request.background).toBe(false);
    calls[1]!.resolve(issued('b', clock.now()));
    expect((await next).accessToken).toBe('b');
  });

  it('peek(): the usable token synchronously, starting the refresh when due; nothing when empty, at usableUntil or after a refusal', async () => {
    const { entry, calls, clock } = entryUnderTest();
    expect(entry.peek()).toBeUndefined();
    expect(calls).toHaveLength(0);
    const pending = entry.get(undefined, false);
    calls[0]!.resolve(issued('a', 0));
    const first = await pending;
    expect(entry.peek()).toBe(first);
    clock.advance(REFRESH);
    expect(entry.peek()).toBe(first);
    await settle();
    expect(calls).toHaveLength(2);
    expect(calls[1]!.request.background).toBe(true);
    // The refresh has not answered: at usableUntil the token is not handed out, and peek starts nothing.
    clock.advance(USABLE - REFRESH);
    expect(entry.peek()).toBeUndefined();
    await settle();
    expect(calls).toHaveLength(2);
    calls[1]!.resolve(issued('b', clock.now()));
    await settle();
    const second = entry.peek();
    expect(second?.accessToken).toBe('b');
    expect(entry.invalidate(second!)).toBe('dropped');
    expect(entry.peek()).toBeUndefined();
  });

  /** An entry holding `a` whose background refresh, started at REFRESH, failed with `error`. */
  async function refreshFailedWith(error: TokenError) {
    const under = entryUnderTest();
    const pending = under.entry.get(undefined, false);
    under.calls[0]!.resolve(issued('a', 0));
    const a = await pending;
    under.clock.advance(REFRESH);
    await under.entry.get(undefined, false);
    await settle();
    under.calls[1]!.reject(error);
    await settle();
    return { ...under, a };
  }

  /** Moves the clock `ms` on and calls once: how many acquire calls there were then. */
  async function callsAfter({ entry, calls, clock }: Awaited<ReturnType<typeof refreshFailedWith>>, ms: number) {
    clock.advance(ms);
    await entry.get(undefined, false);
    await settle();
    return calls.length;
  }

  it('after a failed background refresh keeps serving the token and waits before trying again', async () => {
    const under = await refreshFailedWith(new TokenError('NETWORK', 'down'));
    expect(under.events.error).toEqual([{ error: expect.objectContaining({ code: 'NETWORK' }), background: true }]);
    expect(await under.entry.get(undefined, false)).toBe(under.a);
    // The pause: a quarter of the usable time left, at most 10 s.
    expect(await callsAfter(under, 9_999)).toBe(2);
    expect(await callsAfter(under, 1)).toBe(3);
  });

  it.each(['COOLDOWN', 'BUDGET'] as const)(
    'after a background refresh refused with %s, tries again when it says (retryAfter), not after the usual pause',
    async (code) => {
      const under = await refreshFailedWith(new TokenError(code, 'not now', { retryAfter: 60_000 }));
      expect(await callsAfter(under, 59_999)).toBe(2); // the usual pause (at most 10 s) has long passed
      expect(await callsAfter(under, 1)).toBe(3);
    },
  );

  it("a NETWORK failure with a retryAfter still waits the usual pause (only the client's own refusals name the wait)", async () => {
    const under = await refreshFailedWith(new TokenError('NETWORK', 'down', { retryAfter: 60_000 }));
    expect(await callsAfter(under, 10_000)).toBe(3);
  });

  it('rejects every waiter with the failure of a first request, and keeps nothing', async () => {
    const { entry, calls } = entryUnderTest();
    const waiting = [entry.get(undefined, false), entry.get(undefined, false)];
    calls[0]!.reject(new TokenError('TIMEOUT', 'slow'));
    for (const w of waiting) expect((await rejectionOf(w)).code).toBe('TIMEOUT');
    void entry.get(undefined, false).catch(() => {});
    expect(calls).toHaveLength(2);
  });

  it('hands a token that arrived too late to keep to its waiters, without keeping it', async () => {
    const { entry, calls, clock } = entryUnderTest();
    const pending = entry.get(undefined, false);
    clock.advance(9_950);
    // Sent at 0 with a 10 s life: usable until 9 s, arrives at 9.95 s (even the 1 s skew has passed).
    calls[0]!.resolve(issued('late', 0, 10_000));
    expect((await pending).accessToken).toBe('late');
    expect(entry.token).toBeUndefined();
    void entry.get(undefined, false);
    expect(calls).toHaveLength(2);
  });

  it('does not keep a token whose request started before clear() (revocation)', async () => {
    const { entry, calls } = entryUnderTest();
    const pending = entry.get(undefined, false);
    entry.clear();
    calls[0]!.resolve(issued('a', 0));
    expect((await pending).accessToken).toBe('a');
    expect(calls[0]!.request.isCurrent()).toBe(false);
    expect(entry.token).toBeUndefined();
  });

  it('invalidates only the current token, once, and pauses refusals when its replacement is refused too', async () => {
    const { entry, calls, clock } = entryUnderTest();
    const p1 = entry.get(undefined, false);
    calls[0]!.resolve(issued('a', 0));
    const a = await p1;
    expect(entry.invalidate(a)).toBe('dropped');
    expect(entry.invalidate(a)).toBe('not-current');
    expect(entry.discarded).toBe('a');
    const p2 = entry.get(undefined, false);
    calls[1]!.resolve(issued('b', clock.now()));
    const b = await p2;
    // The replacement is refused too: no new token for REFUSAL_PAUSE.
    expect(entry.invalidate(b)).toBe('paused');
    expect(entry.invalidate(b)).toBe('paused');
    expect(entry.token).toBe(b);
    clock.advance(REFUSAL_PAUSE);
    expect(entry.invalidate(b)).toBe('dropped');
  });

  it('a request from before clear() that fails does not move the refresh of the token kept since', async () => {
    const { entry, calls, clock } = entryUnderTest();
    const p1 = entry.get(undefined, false);
    calls[0]!.resolve(issued('a', 0));
    await p1;
    const old = entry.get(undefined, true);
    entry.clear();
    const p2 = entry.get(undefined, false);
    calls[2]!.resolve(issued('b', 0));
    const b = await p2;
    calls[1]!.reject(new TokenError('NETWORK', 'down'));
    await rejectionOf(old);
    clock.advance(10_000);
    expect(await entry.get(undefined, false)).toBe(b);
    await settle();
    expect(calls).toHaveLength(3);
  });

  it('a replacement refused more than REFUSAL_PAUSE after it arrived is dropped like any other token', async () => {
    const { entry, calls, clock } = entryUnderTest();
    const p1 = entry.get(undefined, false);
    calls[0]!.resolve(issued('a', 0));
    expect(entry.invalidate(await p1)).toBe('dropped');
    const p2 = entry.get(undefined, false);
    calls[1]!.resolve(issued('b', clock.now()));
    const b = await p2;
    clock.advance(REFUSAL_PAUSE);
    expect(entry.invalidate(b)).toBe('dropped');
  });

  it('does not report a request abandoned by close() as a failure', async () => {
    const { entry, calls, closer, events } = entryUnderTest();
    const waiting = entry.get(undefined, false);
    closer.abort(new TokenError('CLOSED', 'closed'));
    calls[0]!.reject(new TokenError('NETWORK', 'down'));
    expect((await rejectionOf(waiting)).code).toBe('CLOSED');
    await settle();
    expect(events.error).toEqual([]);
  });

  it('forceRefresh asks even with a usable token, and joins a request in flight', async () => {
    const { entry, calls } = entryUnderTest();
    const p1 = entry.get(undefined, false);
    calls[0]!.resolve(issued('a', 0));
    await p1;
    const forced = [entry.get(undefined, true), entry.get(undefined, true)];
    expect(calls).toHaveLength(2);
    expect(calls[1]!.request.force).toBe(true);
    calls[1]!.resolve(issued('b', 0));
    for (const f of forced) expect((await f).accessToken).toBe('b');
  });

  it('ABORTED for a caller whose signal is already aborted, even with a usable token; CLOSED after close', async () => {
    const { entry, calls, closer } = entryUnderTest();
    const p1 = entry.get(undefined, false);
    calls[0]!.resolve(issued('a', 0));
    await p1;
    expect((await rejectionOf(entry.get(AbortSignal.abort(), false))).code).toBe('ABORTED');
    entry.clear();
    const waiting = entry.get(undefined, false);
    closer.abort(new TokenError('CLOSED', 'closed'));
    expect((await rejectionOf(waiting)).code).toBe('CLOSED');
    expect((await rejectionOf(entry.get(undefined, false))).code).toBe('CLOSED');
  });
});

/** V8's `gc()`, exposed in this process after its start. */
function exposedGc(): () => void {
  setFlagsFromString('--expose-gc');
  return runInNewContext('gc') as () => void;
}

describe('TokenEntry: the fresh window, a token handed out without reading the clock', () => {
  /**
   * An entry that holds token `a` (sent at 0, an hour's life), after one more call (which opens the
   * window), with the reads of its clock counted from then on.
   */
  async function holdingA(...args: Parameters<typeof entryUnderTest>) {
    const under = entryUnderTest(...args);
    const pending = under.entry.get(undefined, false);
    under.calls[0]!.resolve(issued('a', 0));
    const a = await pending;
    under.entry.peek();
    return { ...under, a, reads: vi.spyOn(under.clock, 'now') };
  }

  it('is opened by the first call that finds the token fresh, not when the token arrives', async () => {
    const { entry, calls, clock } = entryUnderTest();
    const pending = entry.get(undefined, false);
    calls[0]!.resolve(issued('a', 0));
    const a = await pending;
    expect(clock.timers).toBe(0);
    const reads = vi.spyOn(clock, 'now');
    expect(entry.peek()).toBe(a);
    expect(clock.timers).toBe(1);
    expect(await entry.get(undefined, false)).toBe(a);
    expect(reads).toHaveBeenCalledTimes(1);
  });

  it('serves a fresh token from get and peek with no clock read, until the timer at its refresh instant', async () => {
    const { entry, calls, clock, a, reads } = await holdingA();
    expect(await entry.get(undefined, false)).toBe(a);
    expect(entry.peek()).toBe(a);
    expect(reads).not.toHaveBeenCalled();
    clock.advance(REFRESH);
    expect(await entry.get(undefined, false)).toBe(a);
    expect(reads).toHaveBeenCalled();
    await settle();
    expect(calls).toHaveLength(2);
    expect(calls[1]!.request.background).toBe(true);
  });

  it('ends the window 30 s before usableUntil: an event loop blocked for up to 30 s after it gets no token past usableUntil', async () => {
    const hand = handClock();
    let blocked = 0;
    // The clock runs on while the event loop is blocked: no timer runs meanwhile.
    const clock = { ...hand, now: () => hand.now() + blocked };
    const { entry, calls } = await holdingA(clock, { refreshRatio: 1 });
    hand.advance(USABLE - 30_000);
    expect(hand.timers).toBe(0);
    blocked = 30_000;
    void entry.get(undefined, false).catch(() => {});
    expect(calls).toHaveLength(2);
    expect(calls[1]!.request.background).toBe(false);
  });

  it('ends with a failed forced refresh: the pause before the next attempt applies, not the old refresh instant', async () => {
    const { entry, calls, clock, a } = await holdingA();
    const forced = entry.get(undefined, true);
    calls[1]!.reject(new TokenError('NETWORK', 'down'));
    expect((await rejectionOf(forced)).code).toBe('NETWORK');
    clock.advance(10_000);
    expect(await entry.get(undefined, false)).toBe(a);
    await settle();
    expect(calls).toHaveLength(3);
    expect(calls[2]!.request.background).toBe(true);
  });

  it('has one timer per entry: a new token ends it (the next call opens the new one), dropping the token cancels it', async () => {
    const { entry, calls, clock } = await holdingA();
    expect(clock.timers).toBe(1);
    const forced = entry.get(undefined, true);
    calls[1]!.resolve(issued('b', clock.now()));
    const b = await forced;
    expect(clock.timers).toBe(0);
    entry.peek();
    entry.peek();
    expect(clock.timers).toBe(1);
    expect(entry.invalidate(b)).toBe('dropped');
    expect(clock.timers).toBe(0);
  });

  it('is not opened for a token whose refresh is due at once', async () => {
    const { entry, calls, clock } = await holdingA(handClock(), { refreshRatio: 0 });
    expect(clock.timers).toBe(0);
    await entry.get(undefined, false);
    await settle();
    expect(calls).toHaveLength(2);
  });

  it('is not opened for a token with less than 30 s of usable life left: every call reads the clock', async () => {
    const { entry, calls, clock } = entryUnderTest();
    const pending = entry.get(undefined, false);
    calls[0]!.resolve(issued('a', 0, 20_000)); // usable until 18 s, refreshed from 14.4 s
    const a = await pending;
    const reads = vi.spyOn(clock, 'now');
    expect(entry.peek()).toBe(a);
    expect(entry.peek()).toBe(a);
    expect(reads).toHaveBeenCalledTimes(2);
    expect(clock.timers).toBe(0);
  });

  it('is not opened beyond the longest delay of a timer (2³¹ − 1 ms): the clock is read instead', async () => {
    const { entry, calls, clock } = entryUnderTest();
    const pending = entry.get(undefined, false);
    calls[0]!.resolve(issued('a', 0, 100 * 86_400_000)); // a 100-day token
    const a = await pending;
    const reads = vi.spyOn(clock, 'now');
    expect(await entry.get(undefined, false)).toBe(a);
    expect(await entry.get(undefined, false)).toBe(a);
    expect(reads).toHaveBeenCalledTimes(2);
    expect(clock.timers).toBe(0);
  });

  it('holds its entry weakly: an entry nobody holds is collected, and its timer cancelled', async () => {
    const gc = exposedGc();
    const clock = handClock();
    const collected = vi.fn();
    const registry = new FinalizationRegistry(collected);
    await (async () => {
      const { entry } = await holdingA(clock);
      registry.register(entry, 'entry');
    })();
    expect(clock.timers).toBe(1);
    for (let round = 0; round < 50 && collected.mock.calls.length === 0; round++) {
      gc();
      await new Promise((resolve) => setTimeout(resolve, 10));
    }
    expect(collected).toHaveBeenCalledWith('entry');
    for (let round = 0; round < 50 && clock.timers > 0; round++) await new Promise((resolve) => setTimeout(resolve, 10));
    expect(clock.timers).toBe(0);
  });

  it('hands the clock one callback per entry: a clock that declines timers costs the calls no allocation', async () => {
    const hand = handClock();
    const after = vi.fn((_ms: number, _run: () => void): (() => void) | undefined => undefined);
    const { entry } = await holdingA({ ...hand, after });
    entry.peek();
    entry.peek();
    expect(after).toHaveBeenCalledTimes(3);
    expect(after.mock.calls[1]![1]).toBe(after.mock.calls[0]![1]);
    expect(after.mock.calls[2]![1]).toBe(after.mock.calls[0]![1]);
  });

  it('is not trusted while the clock is not steady (a test faked it): every call reads the clock', async () => {
    const hand = handClock();
    let steady = true;
    let jumped = 0;
    const { entry, calls, a, reads } = await holdingA({ ...hand, now: () => hand.now() + jumped, steady: () => steady });
    steady = false;
    expect(await entry.get(undefined, false)).toBe(a);
    expect(reads).toHaveBeenCalledTimes(1);
    jumped = USABLE; // the faked clock jumped; the timer has not run
    void entry.get(undefined, false).catch(() => {});
    expect(calls).toHaveLength(2);
  });

  it('needs timers: with a clock that has none, every call reads the clock, and the token is still served until usableUntil', async () => {
    const hand = handClock();
    const { entry, calls, a, reads } = await holdingA({ ...hand, after: () => undefined });
    expect(await entry.get(undefined, false)).toBe(a);
    expect(reads).toHaveBeenCalledTimes(1);
    hand.advance(USABLE);
    void entry.get(undefined, false).catch(() => {});
    expect(calls).toHaveLength(2);
    expect(calls[1]!.request.background).toBe(false);
  });
});
