/**
 * Waiting in tests, on real time: a plain delay and a bounded poll. Nothing here imports vitest, so the
 * child-process fixtures (run with tsx) use them too.
 */

/** The real monotonic clock, taken before any test fakes `performance`. */
const realNow = performance.now.bind(performance);

/** Waits `ms` real milliseconds (a `setTimeout`: only `Date` may be faked around it). */
export const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

/** Options of {@link waitUntil}. */
export interface WaitOptions {
  /** How long to keep trying, in ms. @default 5000 */
  readonly timeout?: number;
  /** The pause between two tries, in ms. @default 5 */
  readonly interval?: number;
  /** What is awaited, for the error: `timed out after <timeout> ms waiting for <what>`. */
  readonly what?: string;
}

/**
 * Calls `check` until it passes — returns without throwing, and not `false` — and resolves with what it
 * returned. After `timeout` ms it rejects: with `timed out after … waiting for <what>` when `what` is
 * given (the last error as its `cause`), else with the last error `check` threw (an assertion explains
 * itself), else with `condition not met within <timeout> ms`.
 *
 * Unlike `vi.waitFor` it never advances fake timers, and it measures time with the real
 * `performance.now()` (taken before any test fakes it), so faked clocks stay where the test put them.
 */
export async function waitUntil<T>(check: () => T | Promise<T>, options: WaitOptions = {}): Promise<Exclude<T, false>> {
  const { timeout = 5_000, interval = 5, what } = options;
  const deadline = realNow() + timeout;
  for (;;) {
    let failure: { error: unknown } | undefined;
    try {
      const result = await check();
      if (result !== false) return result as Exclude<T, false>;
    } catch (error) {
      failure = { error };
    }
    if (realNow() > deadline) {
      if (what !== undefined) throw new Error(`timed out after ${timeout} ms waiting for ${what}`, failure && { cause: failure.error });
      if (failure !== undefined) throw failure.error;
      throw new Error(`condition not met within ${timeout} ms`);
    }
    await sleep(interval);
  }
}
