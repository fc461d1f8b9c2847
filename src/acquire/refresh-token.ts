import { createToken, type Issued, REFRESH_TOKEN } from '../token.js';
import { OAuthError, TokenError } from '../errors.js';
import type { VersionedAcquire } from './credential-rotation.js';
import type { AcquireRequest } from '../cache/token-entry.js';
import type { CredentialUse } from './credential-rotation.js';

/** A token request with the refresh token grant (RFC 6749 §6). */
export type RefreshAcquire = (request: AcquireRequest, used: CredentialUse, refreshToken: string) => Promise<Issued>;

/**
 * Decorates `acquire`: when the entry's current token came with a refresh token, the next one is asked
 * for with it (`grant_type=refresh_token`). The newest refresh token is kept: the one in the response
 * when the server rotates it, else the one sent (RFC 6749 §6). When the server refuses it
 * (`invalid_grant`: expired, revoked, already used), the client credentials grant is used instead.
 */
export function withRefreshTokens(acquire: VersionedAcquire, refresh: RefreshAcquire): VersionedAcquire {
  return async (request, used) => {
    const refreshToken = request.entry.token?.[REFRESH_TOKEN];
    if (refreshToken === undefined) return acquire(request, used);
    let issued: Issued;
    try {
      issued = await refresh(request, used, refreshToken);
    } catch (error) {
      // Any refusal of the refresh grant (invalid_grant, unauthorized_client, unsupported_grant_type, a bare
      // 400) falls back to the client credentials grant; a credential refusal, 429 or 5xx does not.
      if (!isRefusedGrant(error)) throw error;
      return acquire(request, used);
    }
    if (issued.token[REFRESH_TOKEN] !== undefined) return issued;
    const { accessToken, tokenType, expiresAt, scope, extra } = issued.token;
    return { ...issued, token: createToken({ accessToken, tokenType, expiresAt, scope, extra, refreshToken }) };
  };
}

/** True for the server refusing the refresh grant itself, not the client's credentials or its own health. */
function isRefusedGrant(error: unknown): boolean {
  if (!TokenError.is(error) || error.status === undefined || error.status >= 500 || error.status === 429) return false;
  if (OAuthError.is(error)) return error.error !== 'invalid_client';
  return error.status === 400;
}
