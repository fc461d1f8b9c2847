/**
 * Where the client reads time. Local durations and deadlines (usable-until, refresh-at, backoffs, store
 * bypass, lock waits) use `now()`, a monotonic clock that NTP steps and VM resumes do not move; the wall
 * clock (`wall()`) is only for values users see (`Token.expiresAt`) and values stores share with other
 * processes (`StoredToken.sentAt`/`expiresAt`).
 */
export interface Clock {
  /** Monotonic milliseconds, from an arbitrary origin. */
  now(): number;
  /** Epoch milliseconds (`Date.now()`). */
  wall(): number;
  /**
   * Runs `run` once `ms` have passed on `now()`'s clock, without keeping the process alive; returns the
   * function that cancels it. Undefined when this clock cannot promise that (a test fakes it).
   */
  after(ms: number, run: () => void): (() => void) | undefined;
  /**
   * False while `now()` is not the clock the timers of `after` run on (a test faked it since). Cheap:
   * asked on every call that trusts such a timer instead of reading `now()`.
   */
  steady(): boolean;
}

/** Node's `performance.now`, learnt when the first timer started (not at import: the global loads lazily). */
let nodeNow: (() => number) | undefined;

/**
 * The process's clocks: `performance.now()` and `Date.now()`. Its timers are `AbortSignal.timeout`'s:
 * Node's own timers on the same monotonic clock as `performance.now()`, `unref`ed, and left alone by fake
 * timers (vitest's, Jest's). While a test fakes `performance` (fake timers replace it, a spy gives it an
 * own `now`), `after` declines and `steady()` is false: the faked clock is read instead.
 */
export const systemClock: Clock = Object.freeze({
  now: () => performance.now(),
  wall: () => Date.now(),
  after(ms: number, run: () => void) {
    const clock = performance;
    if (clock.now !== Object.getPrototypeOf(clock)?.now) return undefined;
    // Another runtime's globals (a jsdom test environment) may lack it.
    if (typeof AbortSignal.timeout !== 'function') return undefined;
    nodeNow = clock.now;
    const timer = AbortSignal.timeout(Math.floor(ms));
    timer.addEventListener('abort', run);
    return () => timer.removeEventListener('abort', run);
  },
  steady: () => performance.now === nodeNow,
});
