import type { TestAuthorizationServer, TokenCheck } from './types.js';

/**
 * What a resource server under test decides about a request's `Authorization` header: the token's
 * information when it is an active `Bearer` token of `server` with every scope in `requiredScope`;
 * else the status (401, or 403 for a missing scope) and the `WWW-Authenticate` challenge to answer with
 * (RFC 6750 §3).
 *
 * @example
 * ```ts
 * const check = checkToken(server, req.headers.authorization, 'orders:read');
 * if (!check.ok) return res.writeHead(check.status, { 'www-authenticate': check.wwwAuthenticate }).end();
 * ```
 */
export function checkToken(
  server: Pick<TestAuthorizationServer, 'verify'>,
  authorization: string | null | undefined,
  requiredScope?: string | readonly string[],
): TokenCheck {
  const match = /^bearer\s+(\S+)$/i.exec(authorization ?? '');
  if (match === null) return { ok: false, status: 401, error: undefined, wwwAuthenticate: 'Bearer realm="test"' };
  const info = server.verify(match[1]!);
  if (!info.active) {
    return { ok: false, status: 401, error: 'invalid_token', wwwAuthenticate: 'Bearer realm="test", error="invalid_token"' };
  }
  const required = typeof requiredScope === 'string' ? requiredScope.split(' ').filter(Boolean) : (requiredScope ?? []);
  const missing = required.filter((s) => !info.scope.includes(s));
  if (missing.length > 0) {
    return {
      ok: false,
      status: 403,
      error: 'insufficient_scope',
      wwwAuthenticate: `Bearer realm="test", error="insufficient_scope", scope="${required.join(' ')}"`,
    };
  }
  return { ok: true, token: info };
}
