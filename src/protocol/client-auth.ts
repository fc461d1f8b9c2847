import { nodeCrypto } from '../util/node-crypto.js';
import { loadJose } from '../util/peers.js';
import { CredentialSource } from './credential-source.js';
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
export type ClientAuth = (
  body: URLSearchParams,
  headers: Record<string, string>,
  audience: () => string | Promise<string>,
) => void | Promise<void>;

/** The default `client_assertion_type` (RFC 7523 §2.2). */
export const JWT_BEARER = 'urn:ietf:params:oauth:client-assertion-type:jwt-bearer';

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

/** A credential a client authentication reads on each request: fixed, or asked of a provider. */
type Source<T> = T | CredentialSource<T>;

function read<T>(source: Source<T>): T | Promise<T> {
  return source instanceof CredentialSource ? source.get() : source;
}

/**
 * `client_secret_basic`: id and secret form-encoded before base64 (RFC 6749 §2.3.1), so secrets with
 * `:`, `%`, `+`, spaces or non-ASCII characters survive; with `encoding` `'raw'`, as they are, for
 * servers that do not form-decode them.
 * @see https://www.rfc-editor.org/rfc/rfc6749#section-2.3.1
 */
export function clientSecretBasic(clientId: string, clientSecret: Source<string>, encoding: BasicEncoding = 'form'): ClientAuth {
  return async (_body, headers) => {
    headers.authorization = `Basic ${basicCredential(clientId, await read(clientSecret), encoding)}`;
  };
}

/** `client_secret_post`: id and secret in the form body (RFC 6749 §2.3.1). */
export function clientSecretPost(clientId: string, clientSecret: Source<string>): ClientAuth {
  return async (body) => {
    body.set('client_id', clientId);
    body.set('client_secret', await read(clientSecret));
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
function clientAssertion(
  clientId: string,
  lifetime: number,
  method: string,
  sign: (jwt: import('jose').SignJWT) => Promise<string>,
): ClientAuth {
  return async (body, _headers, audience) => {
    body.set('client_id', clientId);
    body.set('client_assertion_type', JWT_BEARER);
    const jose = await loadJose(method);
    const now = Math.floor(Date.now() / 1000);
    const jwt = new jose.SignJWT({ jti: nodeCrypto().randomUUID() })
      .setIssuer(clientId)
      .setSubject(clientId)
      .setAudience(await audience())
      .setIssuedAt(now)
      .setExpirationTime(now + Math.max(1, Math.round(lifetime / 1000)));
    body.set('client_assertion', await sign(jwt));
  };
}

/** `private_key_jwt`: an assertion signed with the client's private key (its `kid`, if any, in the header). */
export function privateKeyJwt(clientId: string, key: Source<SigningKey>, lifetime: number): ClientAuth {
  return clientAssertion(clientId, lifetime, 'private_key_jwt', async (jwt) => {
    const { key: privateKey, alg, kid } = await read(key);
    return jwt.setProtectedHeader({ alg, typ: 'JWT', ...(kid && { kid }) }).sign(privateKey);
  });
}

/** `client_secret_jwt`: an assertion signed HS256 with the client secret. */
export function clientSecretJwt(clientId: string, clientSecret: Source<string>, lifetime: number): ClientAuth {
  return clientAssertion(clientId, lifetime, 'client_secret_jwt', async (jwt) =>
    jwt.setProtectedHeader({ alg: 'HS256', typ: 'JWT' }).sign(new TextEncoder().encode(await read(clientSecret))),
  );
}

/**
 * A client assertion made elsewhere (RFC 7521 §4.2): a Kubernetes service account token, an Azure
 * federated token, a GitHub Actions OIDC token, a SPIFFE JWT-SVID. Read anew for every request (every
 * retry too), sent as `client_assertion` with `client_assertion_type` `type`.
 * @see https://www.rfc-editor.org/rfc/rfc7521#section-4.2
 */
export function externalAssertion(clientId: string, assertion: Source<string>, type: string = JWT_BEARER): ClientAuth {
  return async (body) => {
    body.set('client_id', clientId);
    body.set('client_assertion_type', type);
    body.set('client_assertion', await read(assertion));
  };
}

/** The credentials options resolve to, for {@link clientAuthFor}. */
export interface ClientCredentials {
  readonly method: ClientAuthMethod;
  readonly clientId: string;
  readonly clientSecret: Source<string> | undefined;
  /** For `private_key_jwt`. */
  readonly signingKey: Source<SigningKey> | undefined;
  /** For `private_key_jwt` with an assertion made elsewhere, instead of `signingKey`. */
  readonly assertion?: { readonly token: Source<string>; readonly type: string } | undefined;
  /** Lifetime of a client assertion, in ms. */
  readonly assertionLifetime: number;
  /** For `client_secret_basic`. @default 'form' */
  readonly basicEncoding?: BasicEncoding | undefined;
}

/** The client authentication of a configured method (options are validated: what it needs is set). */
export function clientAuthFor({
  method,
  clientId,
  clientSecret = '',
  signingKey,
  assertion,
  assertionLifetime,
  basicEncoding,
}: ClientCredentials): ClientAuth {
  switch (method) {
    case 'client_secret_basic':
      return clientSecretBasic(clientId, clientSecret, basicEncoding);
    case 'client_secret_post':
      return clientSecretPost(clientId, clientSecret);
    case 'client_secret_jwt':
      return clientSecretJwt(clientId, clientSecret, assertionLifetime);
    case 'private_key_jwt':
      return assertion !== undefined
        ? externalAssertion(clientId, assertion.token, assertion.type)
        : privateKeyJwt(clientId, signingKey!, assertionLifetime);
    default:
      return clientIdOnly(clientId);
  }
}
