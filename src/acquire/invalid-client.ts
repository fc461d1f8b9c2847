import type { Acquire } from '../cache/token-entry.js';
import type { TokenError } from '../errors.js';
import { isInvalidClient } from '../protocol/token-request.js';
import type { Clock } from '../util/clock.js';

/**
 * Decorates `acquire` with the `invalid_client` fast-fail: after the server refused the client's
 * credentials (`invalid_client`, or a bare 401 / 403: see `isInvalidClient`), every token request fails at once with that error for `backoff` ms (monotonic), instead
 * of sending credentials known to be wrong once per caller and per key.
 */
export function withInvalidClientBackoff(acquire: Acquire, backoff: number, clock: Clock): Acquire {
  let failure: { readonly error: TokenError; readonly until: number } | undefined;
  return async (request) => {
    if (failure !== undefined && clock.now() < failure.until) throw failure.error;
    try {
      return await acquire(request);
    } catch (error) {
      if (isInvalidClient(error)) failure = { error, until: clock.now() + backoff };
      throw error;
    }
  };
}
