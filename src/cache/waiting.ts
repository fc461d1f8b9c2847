import { abortedError } from '../errors.js';
import { noop } from '../util/abort.js';

interface Waiter {
  readonly signal: AbortSignal | undefined;
  settle(error: unknown): void;
}

/**
 * The callers waiting for a token. A wait ends with its request, with the caller's `signal`, or when the
 * client closes (every wait rejected with the close reason). While anyone waits, a ref'ed interval keeps
 * the process alive: the request waited for may be a background refresh whose retry delays are unref'ed
 * (nobody waited when it started), and a script awaiting `getToken()` must not exit meanwhile.
 *
 * Each signal gets one `abort` listener however many callers share it, and closing goes through one set:
 * a listener per waiter would make N concurrent waiters cost O(N²) (EventTarget scans its listeners on
 * every add) and trip `MaxListenersExceededWarning`.
 */
export class Waiters {
  readonly #all = new Set<Waiter>();
  readonly #bySignal = new Map<AbortSignal, { readonly waiters: Set<Waiter>; readonly onAbort: () => void }>();
  #keepAlive: NodeJS.Timeout | undefined;

  /** How many callers wait. */
  get size(): number {
    return this.#all.size;
  }

  /** Waits for `promise`, unless the caller's `signal` or the client closing ends the wait first. */
  wait<T>(promise: Promise<T>, signal: AbortSignal | undefined): Promise<T> {
    if (signal?.aborted) return Promise.reject(abortedError(signal));
    return new Promise<T>((resolve, reject) => {
      let done = false;
      const waiter: Waiter = {
        signal,
        settle: (error) => {
          if (done) return;
          done = true;
          this.#remove(waiter);
          reject(error);
        },
      };
      this.#add(waiter);
      promise.then((value) => {
        if (done) return;
        done = true;
        this.#remove(waiter);
        resolve(value);
      }, waiter.settle);
    });
  }

  /** Ends every wait with `reason` (the client closed). */
  closeAll(reason: unknown): void {
    for (const waiter of [...this.#all]) waiter.settle(reason);
  }

  #add(waiter: Waiter): void {
    if (this.#all.size === 0) this.#keepAlive = setInterval(noop, 2 ** 30);
    this.#all.add(waiter);
    const { signal } = waiter;
    if (signal === undefined) return;
    let group = this.#bySignal.get(signal);
    if (group === undefined) {
      const waiters = new Set<Waiter>();
      const onAbort = () => {
        for (const w of [...waiters]) w.settle(abortedError(signal));
      };
      group = { waiters, onAbort };
      this.#bySignal.set(signal, group);
      signal.addEventListener('abort', onAbort, { once: true });
    }
    group.waiters.add(waiter);
  }

  #remove(waiter: Waiter): void {
    if (!this.#all.delete(waiter)) return;
    if (this.#all.size === 0) {
      clearInterval(this.#keepAlive);
      this.#keepAlive = undefined;
    }
    const { signal } = waiter;
    if (signal === undefined) return;
    const group = this.#bySignal.get(signal);
    if (group === undefined) return;
    group.waiters.delete(waiter);
    if (group.waiters.size === 0) {
      this.#bySignal.delete(signal);
      signal.removeEventListener('abort', group.onAbort);
    }
  }
}
