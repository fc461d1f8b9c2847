import type { Acquire } from '../cache/token-entry.js';
import type { TokenError } from '../errors.js';
import { isInvalidClient } from '../protocol/token-request.js';
import type { Clock } from '../util/clock.js';
import type { RotatingCredentials } from './credential-rotation.js';

const FIXED: RotatingCredentials = { rotating: false, versions: { current: 0 }, refresh: async () => 0 };

/**
 * Decorates `acquire` with the `invalid_client` fast-fail: after the server refused the client's
 * credentials (`invalid_client`, or a bare 401 / 403: see `isInvalidClient`), every token request fails
 * at once with that error for `backoff` ms (monotonic), instead of sending credentials known to be wrong
 * once per caller and per key. The backoff remembers which credentials failed: when a provider returns
 * new ones, requests go through again at once.
 */
export function withInvalidClientBackoff(
  acquire: Acquire,
  backoff: number,
  clock: Clock,
  credentials: RotatingCredentials = FIXED,
): Acquire {
  let failure: { readonly error: TokenError; readonly until: number; readonly version: number } | undefined;
  return async (request) => {
    if (failure !== undefined && clock.now() < failure.until) {
      const { error, version } = failure;
      if (!credentials.rotating || (await credentials.refresh()) === version) throw error;
    }
    try {
      const issued = await acquire(request);
      failure = undefined;
      return issued;
    } catch (error) {
      if (isInvalidClient(error)) failure = { error, until: clock.now() + backoff, version: credentials.versions.current };
      throw error;
    }
  };
}
