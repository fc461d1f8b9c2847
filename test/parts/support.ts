/**
 * What the unit tests of the internal parts share: a clock moved by hand, a token, an entry context
 * whose acquire function the test drives, and a controller of undici's for one attempt.
 */
import type { Dispatcher } from 'undici';
import type { SchedulePolicy } from '../../src/cache/schedule.js';
import { TokenEntry, type Acquire, type AcquireRequest, type EntryContext } from '../../src/cache/token-entry.js';
import { Waiters } from '../../src/cache/waiting.js';
import type { TokenError } from '../../src/errors.js';
import { createToken, type Issued } from '../../src/token.js';
import { handClock as handMovedClock } from '../helpers/hand-clock.js';

/** A hand-moved monotonic clock at 0 ms, with timers, and a wall clock at `wall` + the same offset. */
export function handClock(wall = Date.UTC(2030, 0, 1)) {
  return handMovedClock((now) => wall + now);
}

/** An issued token `value`, sent at monotonic `sentAt` (wall `wall`), living `lifetime` ms. */
export function issued(value: string, sentAt: number, lifetime = 3_600_000, wall = Date.UTC(2030, 0, 1) + sentAt, attempts = 1): Issued {
  const token = createToken({ accessToken: value, tokenType: 'Bearer', expiresAt: wall + lifetime, extra: {} });
  return { token, sentAt, sentAtWall: wall, lifetime, attempts };
}

/** A deferred acquire result, settled by the test. */
export interface PendingAcquire {
  readonly request: AcquireRequest;
  resolve(value: Issued): void;
  reject(error: unknown): void;
}

/**
 * An entry whose acquire calls are recorded and held until the test settles them; events recorded.
 * Policy, unless `policy` says otherwise: margin 30 s, refresh at 80 % of the usable life, no jitter, pause
 * after failure ≤ 10 s.
 */
export function entryUnderTest(clock = handClock(), policy: Partial<SchedulePolicy> = {}) {
  const calls: PendingAcquire[] = [];
  const acquire: Acquire = (request) =>
    new Promise<Issued>((resolve, reject) => {
      calls.push({ request, resolve, reject });
    });
  const closer = new AbortController();
  const events: { token: Issued[]; error: { error: TokenError; background: boolean }[] } = { token: [], error: [] };
  const waiters = new Waiters();
  closer.signal.addEventListener('abort', () => waiters.closeAll(closer.signal.reason));
  const context: EntryContext = {
    clock,
    policy: { expiryMargin: 30_000, refreshRatio: 0.8, refreshJitter: 0, maxRetryDelay: 10_000, ...policy },
    acquire,
    waiters,
    closed: closer.signal,
    onToken: (_entry, value) => events.token.push(value),
    onError: (_entry, error, background) => events.error.push({ error, background }),
  };
  const entry = new TokenEntry('key', { scope: [], audience: undefined, resource: [] }, context);
  return { entry, calls, clock, closer, events, context };
}

/** Lets pending promise callbacks and one event-loop turn run. */
export const settle = () => new Promise<void>((resolve) => setImmediate(resolve));

/** A controller of undici's for one attempt: records what it is told (`calls`), and reads as told. */
export function undiciController(): Dispatcher.DispatchController & { readonly calls: unknown[][] } {
  const calls: unknown[][] = [];
  return {
    calls,
    aborted: false,
    paused: false,
    reason: null,
    abort(reason: Error) {
      calls.push(['abort', reason]);
      Object.assign(this, { aborted: true, reason });
    },
    pause() {
      calls.push(['pause']);
      Object.assign(this, { paused: true });
    },
    resume() {
      calls.push(['resume']);
      Object.assign(this, { paused: false });
    },
  };
}
