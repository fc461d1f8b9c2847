import type { CredentialProvider } from './protocol/credential-source.js';
import type { secretFromFile } from './protocol/secret-file.js';

/**
 * How client assertions (`private_key_jwt`, `client_secret_jwt`) are made,
 * or the assertion itself when it is made elsewhere (`token`).
 */
export interface ClientAssertionOptions {
  /** Signing algorithm of `private_key_jwt`. @default inferred from the key: RS256, PS256 (RSA-PSS keys), ES256/ES384/ES512, EdDSA */
  alg?: string | undefined;
  /** `kid` header. @default the JWK's `kid`, if any */
  kid?: string | undefined;
  /**
   * The assertion's `aud`: `'issuer'`, the authorization server's issuer identifier (RFC 7523bis, the
   * safe default since CVE-2025-27370); `'token_endpoint'`, the token endpoint URL, for every endpoint;
   * `'endpoint'`, the URL of the endpoint being called (the token endpoint for token requests, the
   * revocation endpoint for revocation), for servers that accept only that. Without a known issuer,
   * `'issuer'` means the token endpoint URL.
   * @default 'issuer'
   */
  audience?: 'issuer' | 'token_endpoint' | 'endpoint' | undefined;
  /** Lifetime of each assertion (`exp − iat`), in ms. @default 60000 */
  lifetime?: number | undefined;
  /**
   * A client assertion made elsewhere, sent as it is instead of one signed with `privateKey`
   * (`clientAuth` `private_key_jwt`): a Kubernetes projected service account token, an Azure federated
   * token, a GitHub Actions OIDC token, a SPIFFE JWT-SVID. A string, a function returning one (called
   * for every request, retries included), or `{ file }`, a file read again whenever it changes. An
   * assertion whose `exp` has passed is never sent: the request fails with `TokenError` `CONFIG`.
   * Excludes `alg`, `kid`, `audience` and `lifetime`, which describe assertions the client signs.
   * Never logged or serialised.
   */
  token?: string | CredentialProvider<string> | AssertionFile | undefined;
  /**
   * The `client_assertion_type` of `token`, for example
   * `urn:ietf:params:oauth:client-assertion-type:jwt-spiffe` for a SPIFFE JWT-SVID.
   * @default 'urn:ietf:params:oauth:client-assertion-type:jwt-bearer'
   */
  type?: string | undefined;
}

/** A file holding a client assertion, read again whenever it changes (see {@link secretFromFile}). */
export interface AssertionFile {
  /** The file's path. */
  readonly file: string;
}
