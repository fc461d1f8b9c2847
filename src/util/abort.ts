/**
 * Timers and abort helpers. Signals are combined by hand (a listener removed when done) rather than with
 * `AbortSignal.any`: its composite signals stay reachable from their sources until those are collected,
 * so one long-lived signal (the client's) combined per request leaked listeners on Node 20, and a caller's
 * signal shared by thousands of waits must get one listener, not thousands.
 */

/** Waits `ms` (with an unref'ed timer if `unref`), or rejects with the signal's reason. */
export function sleep(ms: number, signal: AbortSignal | undefined, unref: boolean): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal?.aborted) return reject(signal.reason);
    const onAbort = () => {
      clearTimeout(timer);
      reject(signal?.reason);
    };
    const timer = setTimeout(() => {
      signal?.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    if (unref) timer.unref?.();
    signal?.addEventListener('abort', onAbort, { once: true });
  });
}

/** Resolves on the next turn of the event loop. */
export function nextTurn(): Promise<void> {
  return new Promise((resolve) => setImmediate(resolve));
}

/** Settles like `promise`, or rejects with the signal's reason as soon as it aborts. */
export function untilAborted<T>(promise: Promise<T>, signal: AbortSignal): Promise<T> {
  if (signal.aborted) return Promise.reject(signal.reason);
  return new Promise<T>((resolve, reject) => {
    const onAbort = () => reject(signal.reason);
    signal.addEventListener('abort', onAbort, { once: true });
    promise.then(
      (value) => {
        signal.removeEventListener('abort', onAbort);
        resolve(value);
      },
      (error: unknown) => {
        signal.removeEventListener('abort', onAbort);
        reject(error);
      },
    );
  });
}

/**
 * Settles like `promise`, or rejects with `reason()` once `ms` passed first (an unref'ed timer: a wait
 * that is still running does not keep the process alive).
 */
export function withTimeout<T>(promise: Promise<T>, ms: number, reason: () => unknown): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    const timer = setTimeout(() => reject(reason()), ms);
    timer.unref?.();
    promise.then(
      (value) => {
        clearTimeout(timer);
        resolve(value);
      },
      (error: unknown) => {
        clearTimeout(timer);
        reject(error);
      },
    );
  });
}

/** Does nothing: for promises whose rejection is handled elsewhere. */
export const noop = (): void => {};
