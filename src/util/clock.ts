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
}

/** The process's clocks: `performance.now()` and `Date.now()`. */
export const systemClock: Clock = Object.freeze({
  now: () => performance.now(),
  wall: () => Date.now(),
});
