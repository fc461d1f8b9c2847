import type { KeyObject, X509Certificate } from 'node:crypto';
import { nodeCrypto } from '../util/node-crypto.js';
import { InvalidCredential } from './credential-source.js';

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
 * A function that returns the client certificate of mutual TLS (`cert` and `key`, and `ca` /
 * `passphrase` if needed), synchronously or as a promise: a certificate that rotates (cert-manager,
 * SPIFFE, a sidecar), for example {@link tlsFromFiles}. It is asked before each token request; a
 * different certificate or key gets new connections while those open with the previous one finish
 * their requests.
 */
export type TlsProvider = () => TlsOptions | Promise<TlsOptions>;

/** TLS options checked: the key belongs to the certificate, whose thumbprint is known. */
export interface ClientTls {
  readonly options: TlsOptions;
  /** The certificate's `x5t#S256`; `undefined` without a certificate (`ca` only). */
  readonly thumbprint: string | undefined;
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

const pem = (v: unknown) => typeof v === 'string' || Buffer.isBuffer(v);

/**
 * What is wrong with the shape of TLS options (the option and what it must be), or `undefined`. With
 * `needsCertificate` (a provider's answer), `cert` and `key` are required; otherwise `ca` alone will do.
 */
export function tlsShapeError(tls: unknown, needsCertificate: boolean): [option: string, expected: string] | undefined {
  const { cert, key, ca, passphrase } = (typeof tls === 'object' && tls !== null ? tls : {}) as Partial<Record<keyof TlsOptions, unknown>>;
  if (needsCertificate || cert !== undefined || key !== undefined || ca === undefined) {
    if (!pem(cert)) return ['tls.cert', 'a PEM certificate (string or Buffer)'];
    if (!pem(key)) return ['tls.key', 'a PEM private key (string or Buffer)'];
  }
  if (ca !== undefined && !pem(ca) && !(Array.isArray(ca) && ca.length > 0 && ca.every(pem))) {
    return ['tls.ca', 'a PEM certificate or a list of them (strings or Buffers)'];
  }
  if (passphrase !== undefined && typeof passphrase !== 'string') return ['tls.passphrase', 'a string'];
  return undefined;
}

/** A SHA-256 digest of everything in TLS options (certificate, key, CAs, passphrase): equal digests, same TLS. */
function digestOf({ cert, key, ca, passphrase }: TlsOptions): string {
  const hash = nodeCrypto().createHash('sha256');
  for (const part of [cert, key, ...(Array.isArray(ca) ? ca : [ca]), passphrase]) {
    const bytes = part === undefined ? Buffer.alloc(0) : Buffer.from(part as string | Buffer);
    hash.update(`${bytes.length}:`).update(bytes);
  }
  return hash.digest('base64url');
}

/**
 * The check of a TLS provider's answer, as a credential source uses it: the same rules as a fixed `tls`
 * (PEM `cert` and `key`, the key of that certificate), failures as {@link InvalidCredential} whose
 * message never quotes the answer. An answer equal to the previous one (same bytes) returns the
 * previous {@link ClientTls} itself, unchecked again: a connection built for it is still the right one.
 */
export function tlsCheck(): (value: unknown) => ClientTls {
  let last: { readonly digest: string; readonly tls: ClientTls } | undefined;
  return (value) => {
    const shape = tlsShapeError(value, true);
    if (shape !== undefined) {
      if (typeof value !== 'object' || value === null)
        throw new InvalidCredential(`a value of type ${value === null ? 'null' : typeof value}, not TLS options`);
      throw new InvalidCredential(`no usable \`${shape[0]}\` (it must be ${shape[1]})`);
    }
    const { cert, key, ca, passphrase } = value as TlsOptions;
    const options = Object.fromEntries(Object.entries({ cert, key, ca, passphrase }).filter(([, v]) => v !== undefined)) as TlsOptions;
    const digest = digestOf(options);
    if (last?.digest === digest) return last.tls;
    let thumbprint: string | undefined;
    try {
      thumbprint = certificateThumbprint(options);
    } catch (error) {
      throw new InvalidCredential(`an unusable certificate (${(error as Error).message.replace(/^m2m-token: option /, '')})`);
    }
    last = { digest, tls: Object.freeze({ options, thumbprint }) };
    return last.tls;
  };
}
