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

/** What a retry hook learns before the client waits for the next attempt. */
export interface RetryInfo {
  /** The attempt that failed, from 1. */
  readonly attempt: number;
  /** How long the client waits before the next attempt, in ms. */
  readonly delay: number;
  readonly error: TokenError;
}

/** How a retried operation runs. */
export interface RetryContext {
  /** Stops the attempts and the waiting; its reason is thrown. */
  readonly signal?: AbortSignal | undefined;
  /** Nobody waits for the result: the delays do not keep the process alive. */
  readonly background?: boolean;
  /** Called before each wait. */
  readonly onRetry?: ((info: RetryInfo) => void) | undefined;
}

/**
 * Runs `attempt` (given its number, from 1) under the client's retry policy. Transient failures are
 * retried after `minDelay × 2^(n−1)`, with jitter (×1 to ×2), or after the failed response's
 * `Retry-After` when that is longer; every delay is capped at `maxDelay`. With `background`, the delays
 * do not keep the process alive (nobody waits for the result); otherwise they do, like the request.
 */
export function withRetry<T>(attempt: (n: number) => Promise<T>, policy: ResolvedOptions['retry'], context: RetryContext = {}): Promise<T> {
  const { signal, background = false, onRetry } = context;
  if (policy.retries === 0) return attempt(1);
  return pRetry(attempt, {
    retries: policy.retries,
    // p-retry runs the loop; the delays are ours (below), so its own are zero.
    minTimeout: 0,
    signal,
    shouldRetry: async ({ error, attemptNumber }) => {
      if (!isRetryable(error)) return false;
      const backoff = policy.minDelay * 2 ** (attemptNumber - 1) * (1 + Math.random());
      const delay = Math.round(Math.min(policy.maxDelay, Math.max(backoff, retryAfterOf.get(error) ?? 0)));
      onRetry?.({ attempt: attemptNumber, delay, error: error as TokenError });
      await sleep(delay, signal, background);
      return true;
    },
  });
}
