import pRetry from 'p-retry';
import { TokenError } from './errors.js';
import type { ResolvedOptions } from './options.js';

const retryAfterOf = new WeakMap<object, number>();

/**
 * Parses a `Retry-After` header (RFC 9110 §10.2.3): delay-seconds or an HTTP date.
 * Returns the delay in ms, or `undefined` when the value is missing or malformed.
 */
export function parseRetryAfter(value: string | null, now = Date.now()): number | undefined {
  if (value === null) return undefined;
  const trimmed = value.trim();
  if (/^\d{1,10}$/.test(trimmed)) return Number(trimmed) * 1000;
  if (!/^[A-Za-z]{3}, \d{2} [A-Za-z]{3} \d{4} \d{2}:\d{2}:\d{2} GMT$/.test(trimmed)) return undefined;
  const date = Date.parse(trimmed);
  return Number.isNaN(date) ? undefined : Math.max(0, date - now);
}

/** Marks an error with the delay its response asked for in `Retry-After`. */
export function withRetryAfter<E extends object>(error: E, headers: Headers): E {
  const delay = parseRetryAfter(headers.get('retry-after'));
  if (delay !== undefined) retryAfterOf.set(error, delay);
  return error;
}

/**
 * Transient failures are retried: network errors, timeouts, HTTP 5xx and 429. OAuth errors from 4xx
 * (`invalid_client`, `invalid_scope`, …) and malformed successful responses are not.
 */
export function isRetryable(error: unknown): boolean {
  if (!TokenError.is(error)) return false;
  if (error.code === 'NETWORK' || error.code === 'TIMEOUT') return true;
  return error.status !== undefined && (error.status >= 500 || error.status === 429);
}

function sleep(ms: number, signal: AbortSignal | undefined, unref: boolean): Promise<void> {
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

/**
 * Runs `attempt` under the client's retry policy: exponential backoff from `minDelay`, doubling, with
 * jitter (×1 to ×2), each delay capped at `maxDelay`. A `Retry-After` on the failed response is waited
 * out first (capped at `maxDelay`). `signal` stops the waiting. With `background`, the delays do not
 * keep the process alive (nobody waits for the result); otherwise they do, like the request itself.
 */
export function withRetry<T>(
  attempt: () => Promise<T>,
  policy: ResolvedOptions['retry'],
  signal: AbortSignal | undefined,
  background = false,
): Promise<T> {
  if (policy.retries === 0) return attempt();
  return pRetry(attempt, {
    retries: policy.retries,
    factor: 2,
    minTimeout: policy.minDelay,
    maxTimeout: policy.maxDelay,
    randomize: true,
    unref: background,
    signal,
    shouldRetry: async ({ error }) => {
      if (!isRetryable(error)) return false;
      const retryAfter = retryAfterOf.get(error);
      if (retryAfter !== undefined) await sleep(Math.min(retryAfter, policy.maxDelay), signal, background);
      return true;
    },
  });
}
