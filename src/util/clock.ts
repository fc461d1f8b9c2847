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
   * function that cancels it. Undefined when this clock cannot promise that (its timers and `now()` may
   * disagree): the caller then reads `now()` instead.
   */
  after(ms: number, run: () => void): (() => void) | undefined;
}

/** The global timers when this module was loaded: Node's own, unless a test faked them earlier. */
const { setTimeout: ownSetTimeout, clearTimeout: ownClearTimeout } = globalThis;

/**
 * The process's clocks: `performance.now()` and `Date.now()`. Its timers are Node's, which run on the
 * same monotonic clock as `performance.now()`. While a test fakes either (`vi.useFakeTimers`, a spy on
 * `performance.now`), `after` declines: a faked clock may jump past a timer that real time has not
 * reached, and the other way round.
 */
export const systemClock: Clock = Object.freeze({
  now: () => performance.now(),
  wall: () => Date.now(),
  after(ms: number, run: () => void) {
    // A faked `performance` has its own `now` (or none of Node's prototype).
    const clock = performance;
    if (globalThis.setTimeout !== ownSetTimeout || clock.now !== Object.getPrototypeOf(clock)?.now) return undefined;
    const timer = ownSetTimeout(run, ms);
    timer.unref();
    return () => ownClearTimeout(timer);
  },
});
