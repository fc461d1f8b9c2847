import { randomUUID } from 'node:crypto';
import { loadJose } from '../util/peers.js';
import type { SigningKey } from './keys.js';

/**
 * How the client authenticates to the token and revocation endpoints: RFC 6749 §2.3 (secrets),
 * RFC 7523 (JWT assertions), RFC 8705 (mutual TLS), or `none` for public clients.
 */
export type ClientAuthMethod =
  | 'client_secret_basic'
  | 'client_secret_post'
  | 'client_secret_jwt'
  | 'private_key_jwt'
  | 'tls_client_auth'
  | 'self_signed_tls_client_auth'
  | 'none';

/**
 * Adds client authentication to one request's form body and headers. `audience` gives the `aud` of a
 * client assertion for the endpoint being called.
 */
export type ClientAuth = (body: URLSearchParams, headers: Record<string, string>, audience: () => string | Promise<string>) => void | Promise<void>;

const JWT_BEARER = 'urn:ietf:params:oauth:client-assertion-type:jwt-bearer';

/** application/x-www-form-urlencoded encoding of one value, as RFC 6749 §2.3.1 requires for Basic. */
function formEncode(value: string): string {
  return new URLSearchParams([['', value]]).toString().slice(1);
}

/**
 * How id and secret are encoded inside the Basic credential: `'form'`, form-encoded first as RFC 6749
 * §2.3.1 requires; `'raw'`, as they are (what servers that do not form-decode expect, RFC 7617 style).
 */
export type BasicEncoding = 'form' | 'raw';

/** The Basic credential: id and secret (form-encoded unless `'raw'`), joined by `:`, in base64. */
function basicCredential(clientId: string, clientSecret: string, encoding: BasicEncoding = 'form'): string {
  const encode = encoding === 'form' ? formEncode : (value: string) => value;
  return Buffer.from(`${encode(clientId)}:${encode(clientSecret)}`).toString('base64');
}

/** True when form-encoding changes the id or the secret: only then do the two Basic encodings differ. */
export function basicEncodingMatters(clientId: string, clientSecret: string | undefined): boolean {
  return clientSecret !== undefined && (formEncode(clientId) !== clientId || formEncode(clientSecret) !== clientSecret);
}

/**
 * The client secret in the forms it travels in (as is, form-encoded, base64, inside the Basic
 * credential): redacted from whatever a server echoes back into an error.
 */
export function secretForms(clientId: string, clientSecret: string | undefined): readonly string[] {
  if (clientSecret === undefined || clientSecret === '') return [];
  return [
    clientSecret,
    formEncode(clientSecret),
    Buffer.from(clientSecret).toString('base64'),
    basicCredential(clientId, clientSecret),
    basicCredential(clientId, clientSecret, 'raw'),
  ];
}

/**
 * `client_secret_basic`: id and secret form-encoded before base64 (RFC 6749 §2.3.1), so secrets with
 * `:`, `%`, `+`, spaces or non-ASCII characters survive; with `encoding` `'raw'`, as they are, for
 * servers that do not form-decode them.
 * @see https://www.rfc-editor.org/rfc/rfc6749#section-2.3.1
 */
export function clientSecretBasic(clientId: string, clientSecret: string, encoding: BasicEncoding = 'form'): ClientAuth {
  const authorization = `Basic ${basicCredential(clientId, clientSecret, encoding)}`;
  return (_body, headers) => {
    headers.authorization = authorization;
  };
}

/** `client_secret_post`: id and secret in the form body (RFC 6749 §2.3.1). */
export function clientSecretPost(clientId: string, clientSecret: string): ClientAuth {
  return (body) => {
    body.set('client_id', clientId);
    body.set('client_secret', clientSecret);
  };
}

/**
 * `tls_client_auth` / `self_signed_tls_client_auth` (RFC 8705: the certificate on the connection is the
 * credential) and `none` (a public client): only `client_id` in the body.
 */
export function clientIdOnly(clientId: string): ClientAuth {
  return (body) => {
    body.set('client_id', clientId);
  };
}

/**
 * A client assertion (RFC 7523 §3, OpenID Connect Core §9): `iss` = `sub` = the client id, `aud` the
 * authorization server, a unique `jti`, `iat` and a short `exp`, signed by `sign`.
 * @see https://www.rfc-editor.org/rfc/rfc7523#section-2.2
 */
function clientAssertion(clientId: string, lifetime: number, method: string, sign: (jwt: import('jose').SignJWT) => Promise<string>): ClientAuth {
  return async (body, _headers, audience) => {
    body.set('client_id', clientId);
    body.set('client_assertion_type', JWT_BEARER);
    const jose = await loadJose(method);
    const now = Math.floor(Date.now() / 1000);
    const jwt = new jose.SignJWT({ jti: randomUUID() })
      .setIssuer(clientId)
      .setSubject(clientId)
      .setAudience(await audience())
      .setIssuedAt(now)
      .setExpirationTime(now + Math.max(1, Math.round(lifetime / 1000)));
    body.set('client_assertion', await sign(jwt));
  };
}

/** `private_key_jwt`: an assertion signed with the client's private key. */
export function privateKeyJwt(clientId: string, key: SigningKey, lifetime: number): ClientAuth {
  const header = { alg: key.alg, typ: 'JWT', ...(key.kid && { kid: key.kid }) };
  return clientAssertion(clientId, lifetime, 'private_key_jwt', (jwt) => jwt.setProtectedHeader(header).sign(key.key));
}

/** `client_secret_jwt`: an assertion signed HS256 with the client secret. */
export function clientSecretJwt(clientId: string, clientSecret: string, lifetime: number): ClientAuth {
  const secret = new TextEncoder().encode(clientSecret);
  return clientAssertion(clientId, lifetime, 'client_secret_jwt', (jwt) => jwt.setProtectedHeader({ alg: 'HS256', typ: 'JWT' }).sign(secret));
}

/** The credentials options resolve to, for {@link clientAuthFor}. */
export interface ClientCredentials {
  readonly method: ClientAuthMethod;
  readonly clientId: string;
  readonly clientSecret: string | undefined;
  /** For `private_key_jwt`. */
  readonly signingKey: SigningKey | undefined;
  /** Lifetime of a client assertion, in ms. */
  readonly assertionLifetime: number;
  /** For `client_secret_basic`. @default 'form' */
  readonly basicEncoding?: BasicEncoding | undefined;
}

/** The client authentication of a configured method (options are validated: what it needs is set). */
export function clientAuthFor({ method, clientId, clientSecret = '', signingKey, assertionLifetime, basicEncoding }: ClientCredentials): ClientAuth {
  switch (method) {
    case 'client_secret_basic':
      return clientSecretBasic(clientId, clientSecret, basicEncoding);
    case 'client_secret_post':
      return clientSecretPost(clientId, clientSecret);
    case 'client_secret_jwt':
      return clientSecretJwt(clientId, clientSecret, assertionLifetime);
    case 'private_key_jwt':
      return privateKeyJwt(clientId, signingKey!, assertionLifetime);
    default:
      return clientIdOnly(clientId);
  }
}
