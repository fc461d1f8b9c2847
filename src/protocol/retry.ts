import pRetry from 'p-retry';
import { TokenError } from '../errors.js';
import { sleep } from '../util/abort.js';

/** The retry policy, as resolved from the `retry` option. */
export interface RetryPolicy {
  readonly retries: number;
  readonly minDelay: number;
  readonly maxDelay: number;
}

const TRANSIENT = Symbol('m2m-token.transient');

/** Marks an error that no response status shows to be transient (a token that expired in transit). */
export function transient<E extends TokenError>(error: E): E {
  Object.defineProperty(error, TRANSIENT, { value: true });
  return error;
}

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

/**
 * Transient failures are retried: network errors, timeouts, HTTP 5xx and 429. OAuth errors from 4xx
 * (`invalid_client`, `invalid_scope`, …) and malformed successful responses are not.
 */
export function isRetryable(error: unknown): boolean {
  if (!TokenError.is(error)) return false;
  if ((error as unknown as Record<symbol, unknown>)[TRANSIENT] === true) return true;
  if (error.code === 'NETWORK' || error.code === 'TIMEOUT') return true;
  return error.status !== undefined && (error.status >= 500 || error.status === 429);
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
  /**
   * Called with each failed attempt that would be retried, before anything else; returning false
   * ends the operation with that error instead (a fleet-wide cooldown takes over the waiting).
   */
  readonly onFailure?: ((error: TokenError) => boolean) | undefined;
}

/**
 * Runs `attempt` (given its number, from 1) under the client's retry policy. Transient failures are
 * retried after `minDelay × 2^(n−1)`, with jitter (×1 to ×2), or after the failed response's
 * `Retry-After` when that is longer; every delay is capped at `maxDelay`. With `background`, the delays
 * do not keep the process alive (nobody waits for the result); otherwise they do, like the request.
 */
export function withRetry<T>(attempt: (n: number) => Promise<T>, policy: RetryPolicy, context: RetryContext = {}): Promise<T> {
  const { signal, background = false, onRetry, onFailure } = context;
  if (policy.retries === 0) return attempt(1);
  return pRetry(attempt, {
    retries: policy.retries,
    // p-retry runs the loop; the delays are ours (below), so its own are zero.
    minTimeout: 0,
    signal,
    shouldRetry: async ({ error, attemptNumber }) => {
      if (!isRetryable(error)) return false;
      if (onFailure?.(error as TokenError) === false) return false;
      const backoff = policy.minDelay * 2 ** (attemptNumber - 1) * (1 + Math.random());
      const delay = Math.round(Math.min(policy.maxDelay, Math.max(backoff, (error as TokenError).retryAfter ?? 0)));
      onRetry?.({ attempt: attemptNumber, delay, error: error as TokenError });
      await sleep(delay, signal, background);
      return true;
    },
  });
}
