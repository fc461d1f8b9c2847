import { randomUUID } from 'node:crypto';
import type { SigningKey } from './keys.js';
import { loadJose } from './optional.js';
import type { ClientAuthMethod } from './options.js';

/** The client credentials used to authenticate to an endpoint. */
export interface ClientCredentials {
  readonly method: ClientAuthMethod;
  readonly clientId: string;
  readonly clientSecret: string | undefined;
  /** For `private_key_jwt`. */
  readonly signingKey: SigningKey | undefined;
  /** Lifetime of a client assertion, in ms. */
  readonly assertionLifetime: number;
}

const JWT_BEARER = 'urn:ietf:params:oauth:client-assertion-type:jwt-bearer';

/** application/x-www-form-urlencoded encoding of one value, as RFC 6749 §2.3.1 requires for Basic. */
function formEncode(value: string): string {
  return new URLSearchParams([['', value]]).toString().slice(1);
}

/** The Basic credential: id and secret form-encoded, joined by `:`, in base64 (RFC 6749 §2.3.1). */
function basicCredential(clientId: string, clientSecret: string): string {
  return Buffer.from(`${formEncode(clientId)}:${formEncode(clientSecret)}`).toString('base64');
}

/**
 * The client secret in the forms it travels in (as is, form-encoded, base64, inside the Basic
 * credential): redacted from whatever a server echoes back into an error.
 */
export function secretForms(clientId: string, clientSecret: string | undefined): readonly string[] {
  if (clientSecret === undefined || clientSecret === '') return [];
  return [clientSecret, formEncode(clientSecret), Buffer.from(clientSecret).toString('base64'), basicCredential(clientId, clientSecret)];
}

/**
 * A client assertion (RFC 7523 §3, OpenID Connect Core §9): `iss` = `sub` = the client id, `aud` the
 * authorization server, a unique `jti`, `iat` and a short `exp`. Signed with the private key
 * (`private_key_jwt`) or HS256 with the client secret (`client_secret_jwt`).
 */
async function clientAssertion(credentials: ClientCredentials, audience: string): Promise<string> {
  const jose = await loadJose(credentials.method);
  const now = Math.floor(Date.now() / 1000);
  const jwt = new jose.SignJWT({ jti: randomUUID() })
    .setIssuer(credentials.clientId)
    .setSubject(credentials.clientId)
    .setAudience(audience)
    .setIssuedAt(now)
    .setExpirationTime(now + Math.max(1, Math.round(credentials.assertionLifetime / 1000)));
  // client_secret_jwt is always keyed by the secret, even if a private key is configured too.
  const key = credentials.method === 'private_key_jwt' ? credentials.signingKey : undefined;
  if (key !== undefined) return jwt.setProtectedHeader({ alg: key.alg, typ: 'JWT', ...(key.kid && { kid: key.kid }) }).sign(key.key);
  return jwt.setProtectedHeader({ alg: 'HS256', typ: 'JWT' }).sign(new TextEncoder().encode(credentials.clientSecret));
}

/**
 * Adds client authentication to a request's form body and headers:
 * - `client_secret_basic` form-encodes id and secret before base64 (RFC 6749 §2.3.1), so secrets with
 *   `:`, `%`, `+`, spaces or non-ASCII characters survive;
 * - `client_secret_post` sends both in the body;
 * - `private_key_jwt` / `client_secret_jwt` send a fresh client assertion (RFC 7523) whose audience is
 *   `audience()` (the only methods that return a promise);
 * - `tls_client_auth` / `self_signed_tls_client_auth` (RFC 8705) and `none` send only `client_id`: the
 *   certificate on the connection is the credential.
 *
 * @see https://www.rfc-editor.org/rfc/rfc6749#section-2.3.1
 * @see https://www.rfc-editor.org/rfc/rfc7523#section-2.2
 */
export function applyClientAuth(
  credentials: ClientCredentials,
  body: URLSearchParams,
  headers: Record<string, string>,
  audience: () => string | Promise<string>,
): Promise<void> | undefined {
  const { method, clientId, clientSecret = '' } = credentials;
  switch (method) {
    case 'client_secret_basic':
      headers.authorization = `Basic ${basicCredential(clientId, clientSecret)}`;
      return;
    case 'client_secret_post':
      body.set('client_id', clientId);
      body.set('client_secret', clientSecret);
      return;
    case 'private_key_jwt':
    case 'client_secret_jwt':
      body.set('client_id', clientId);
      body.set('client_assertion_type', JWT_BEARER);
      // Only assertions need to wait (for the key and the audience): the others stay synchronous.
      return (async () => {
        body.set('client_assertion', await clientAssertion(credentials, await audience()));
      })();
    case 'tls_client_auth':
    case 'self_signed_tls_client_auth':
    case 'none':
      body.set('client_id', clientId);
      return;
  }
}
