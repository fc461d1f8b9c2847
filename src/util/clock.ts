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
   * Whether the timers of `after` are known to run on the clock `now()` reads, and still do. Cheap: asked
   * on every call that trusts such a timer instead of reading `now()`.
   */
  steady(): boolean;
  /**
   * Runs `run` once `ms` have passed on `now()`'s clock, without keeping the process alive; returns the
   * function that cancels it. Only while `steady()`; undefined when the timer cannot be started.
   */
  after(ms: number, run: () => void): (() => void) | undefined;
}

/** How long the probe of the process's timers waits (see {@link systemClock}). */
const PROBE_MS = 10;

/**
 * Node's `performance.now`, once a probe saw a timer run on it; undefined before (or for good, when the
 * probe saw a timer run on another clock: a fake one).
 */
let nodeNow: (() => number) | undefined;
/** The global `Date` at import: fake timers replace it along with `performance`, and it is cheaper to read. */
const ownDate = Date;
/** `ownDate` once the probe passed, so that one comparison tells both. */
let trustedDate: DateConstructor | undefined;
let probed = false;

/** `performance.now` is Node's method, not an own property (a spy) or a stand-in object's (fake timers). */
function unfaked(clock: typeof performance): boolean {
  return clock.now === Object.getPrototypeOf(clock)?.now;
}

/**
 * Starts the probe of the module: an `AbortSignal.timeout` that must not run before `PROBE_MS` have
 * passed on `performance.now()`. A timer that fake timers took over runs when fake time is moved (at
 * once, in most tests), or never. Late is fine: a busy event loop runs its timers late. Not while
 * `performance` is faked, nor where `AbortSignal.timeout` is missing (tried again on a later call).
 */
function probe(): void {
  const clock = performance;
  if (probed || !unfaked(clock) || typeof AbortSignal.timeout !== 'function') return;
  probed = true;
  const now = clock.now;
  const start = now.call(clock);
  AbortSignal.timeout(PROBE_MS).addEventListener('abort', () => {
    // Measured on Node's clock, whatever a test fakes meanwhile. Node's timers may run up to a
    // millisecond early: their clock counts whole milliseconds.
    if (now.call(clock) - start < PROBE_MS - 1) return;
    nodeNow = now;
    trustedDate = ownDate;
  });
}

/**
 * The process's clocks: `performance.now()` and `Date.now()`. Its timers are `AbortSignal.timeout`'s
 * (Node's own, on the monotonic clock `performance.now()` reads, `unref`ed), trusted once a probe saw one
 * run on that clock: fake timers installed before Node loaded its `AbortSignal` may have taken them over.
 * `steady()` is false until then, and again while `Date` is not the one of the import: fake timers
 * replace it along with `performance`, and it is the cheaper of the two to read on every call. `after`
 * starts no timer while `performance.now` is not Node's (fake timers, or a spy, which leaves `Date`).
 */
export const systemClock: Clock = Object.freeze({
  now: () => performance.now(),
  wall: () => Date.now(),
  steady(): boolean {
    if (Date === trustedDate) return true;
    probe();
    return false;
  },
  after(ms: number, run: () => void) {
    if (performance.now !== nodeNow) return undefined;
    const timer = AbortSignal.timeout(Math.floor(ms));
    timer.addEventListener('abort', run);
    return () => timer.removeEventListener('abort', run);
  },
});
