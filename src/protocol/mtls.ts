import type { KeyObject, X509Certificate } from 'node:crypto';
import { nodeCrypto } from '../util/node-crypto.js';

/**
 * TLS of the client's connections to the token, revocation and discovery endpoints and, through the
 * client's `fetch`, to resource servers: a client certificate for mutual TLS (RFC 8705; `cert` and
 * `key`), so that certificate-bound tokens (`cnf.x5t#S256`) are accepted; certificate authorities to
 * trust (`ca`, e.g. a private CA of the authorization server); or both.
 */
export interface TlsOptions {
  /** The client certificate chain, PEM. Set together with `key`. */
  cert?: string | Buffer | undefined;
  /** The certificate's private key, PEM. Never logged or serialised. */
  key?: string | Buffer | undefined;
  /** Certificate authorities to trust for the servers, PEM. @default Node's default CAs */
  ca?: string | Buffer | readonly (string | Buffer)[] | undefined;
  /** Passphrase of an encrypted `key`. */
  passphrase?: string | undefined;
}

/**
 * The SHA-256 thumbprint of the certificate (as in `x5t#S256`): tokens are cached per certificate.
 * Checks first that `tls.key` is a private key (with `tls.passphrase` if encrypted) of that certificate,
 * so that a wrong key is a `TypeError` at construction rather than a TLS failure on the first request.
 * `undefined` without a certificate (`tls` with `ca` only).
 */
export function certificateThumbprint(tls: TlsOptions): string | undefined {
  if (tls.cert === undefined) return undefined;
  let certificate: X509Certificate;
  try {
    certificate = new (nodeCrypto().X509Certificate)(tls.cert);
  } catch {
    throw new TypeError('m2m-token: option `tls.cert` is not a PEM certificate');
  }
  let key: KeyObject;
  try {
    key = nodeCrypto().createPrivateKey({ key: tls.key as string | Buffer, passphrase: tls.passphrase });
  } catch {
    throw new TypeError('m2m-token: option `tls.key` is not a PEM private key (or `tls.passphrase` does not decrypt it)');
  }
  if (!certificate.checkPrivateKey(key))
    throw new TypeError('m2m-token: option `tls.key` is not the private key of the `tls.cert` certificate');
  return nodeCrypto().createHash('sha256').update(certificate.raw).digest('base64url');
}
