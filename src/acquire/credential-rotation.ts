import type { Acquire, AcquireRequest } from '../cache/token-entry.js';
import { OAuthError, TokenError } from '../errors.js';
import { isInvalidClient } from '../protocol/token-request.js';
import type { Issued } from '../token.js';

/** Where a token request records the version of the credentials it sent. */
export interface CredentialUse {
  version?: number;
}

/** A token request that records which version of the credentials it sent in `used`. */
export type VersionedAcquire = (request: AcquireRequest, used: CredentialUse) => Promise<Issued>;

/** What the rotation needs of the client's credentials. */
export interface RotatingCredentials {
  /** True when a credential comes from a provider (it may change). */
  readonly rotating: boolean;
  /** Changes each time a provider returns a new credential. */
  readonly versions: { readonly current: number };
  /** Asks the providers again; resolves with the version of what they return now. */
  refresh(): Promise<number>;
}

/**
 * True for an answer that refuses the client's credentials: `invalid_client`, or a bare HTTP 401 or 403
 * without an OAuth error body.
 */
export function refusesCredentials(error: unknown): boolean {
  if (isInvalidClient(error)) return true;
  return (
    TokenError.is(error) && !OAuthError.is(error) && error.code === 'INVALID_RESPONSE' && (error.status === 401 || error.status === 403)
  );
}

/**
 * Decorates `acquire`: when the server refuses the credentials a request sent and a provider now
 * returns different ones (the secret was rotated, the key replaced), the request is sent once more, at
 * once, with the new credentials.
 */
export function withCredentialRotation(acquire: VersionedAcquire, credentials: RotatingCredentials): Acquire {
  if (!credentials.rotating) return (request) => acquire(request, {});
  return async (request) => {
    const used: CredentialUse = {};
    try {
      return await acquire(request, used);
    } catch (error) {
      if (used.version === undefined || !refusesCredentials(error)) throw error;
      if ((await credentials.refresh()) === used.version) throw error;
      return acquire(request, {});
    }
  };
}
