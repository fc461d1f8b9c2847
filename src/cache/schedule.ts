/**
 * When a token is handed out and when it is renewed: pure arithmetic over the monotonic clock, so the
 * rules can be read, and tested, in one place.
 */

/** The options that shape the schedule. */
export interface SchedulePolicy {
  /** A token is not handed out in its last `expiryMargin` ms (a tenth of its lifetime when that is less). */
  readonly expiryMargin: number;
  /** A background refresh starts once this share of the usable life has passed. */
  readonly refreshRatio: number;
  /** The refresh instant is moved earlier by up to this share of the lifetime, at random. */
  readonly refreshJitter: number;
  /** Upper bound of the pause after a failed background refresh. */
  readonly maxRetryDelay: number;
}

/** The instants of one token's life on the monotonic clock. */
export interface Schedule {
  /** Handed out while `now < usableUntil`. */
  readonly usableUntil: number;
  /** From this instant a call starts a background refresh. */
  readonly refreshAt: number;
}

/** A token that arrived late is still kept until this close to its real expiry. */
export const LATE_SKEW = 1_000;

/**
 * The schedule of a token sent at `sentAt` with `lifetime` ms. Usable until expiry minus the margin (a
 * tenth of the lifetime when smaller); refreshed after `refreshRatio` of that usable life, less jitter —
 * or, when the server sent a refresh hint (`refresh_in`, as `refreshIn` ms after `sentAt`), at that
 * hint less jitter. A hint at or past the end of the usable life is ignored (it would make callers wait).
 * A token that arrives with less than the margin left (a slow response, a stalled process) is kept until
 * its real expiry minus {@link LATE_SKEW} (a tenth of the lifetime when smaller), with its refresh due
 * at once; `usableUntil <= now` means it is not kept at all, only handed to the callers waiting for it.
 */
export function schedule(
  sentAt: number,
  lifetime: number,
  now: number,
  policy: SchedulePolicy,
  random = Math.random(),
  refreshIn?: number,
): Schedule {
  const expiresAt = sentAt + lifetime;
  const usableUntil = expiresAt - Math.min(policy.expiryMargin, lifetime / 10);
  if (usableUntil <= now) return { usableUntil: expiresAt - Math.min(LATE_SKEW, lifetime / 10), refreshAt: now };
  const hinted = refreshIn !== undefined && refreshIn >= 0 && sentAt + refreshIn < usableUntil;
  const due = hinted ? sentAt + refreshIn : sentAt + (usableUntil - sentAt) * policy.refreshRatio;
  const refreshAt = due - random * policy.refreshJitter * lifetime;
  return { usableUntil, refreshAt: Math.max(sentAt, refreshAt) };
}

/**
 * After a failed background refresh the current token is still served; the next attempt waits a quarter
 * of the usable time left (at least 10 ms, at most `maxRetryDelay`), so a failing server is not hammered.
 * A refusal that says when to come back (`notBefore` ms: a fleet cooldown, a spent issuance budget) moves
 * the next attempt to then instead — but never past `usableUntil`, so the last attempts still happen
 * while the token is usable.
 */
export function retryAfterFailure(now: number, usableUntil: number, policy: SchedulePolicy, notBefore?: number): number {
  if (notBefore !== undefined && notBefore > 0) return Math.min(now + notBefore, Math.max(now, usableUntil - 10));
  return now + Math.min(policy.maxRetryDelay, Math.max(10, (usableUntil - now) / 4));
}
