import { createHash, createPrivateKey, type KeyObject, X509Certificate } from 'node:crypto';
import { loadUndici } from '../util/peers.js';

/**
 * The client certificate for mutual TLS (RFC 8705): presented on every connection to the token,
 * revocation and discovery endpoints and, through the client's `fetch`, to resource servers, so that
 * certificate-bound tokens (`cnf.x5t#S256`) are accepted.
 */
export interface TlsOptions {
  /** The client certificate chain, PEM. */
  cert: string | Buffer;
  /** The certificate's private key, PEM. Never logged or serialised. */
  key: string | Buffer;
  /** Certificate authorities to trust for the servers, PEM. @default Node's default CAs */
  ca?: string | Buffer | readonly (string | Buffer)[] | undefined;
  /** Passphrase of an encrypted `key`. */
  passphrase?: string | undefined;
}

/**
 * The SHA-256 thumbprint of the certificate (as in `x5t#S256`): tokens are cached per certificate.
 * Checks first that `tls.key` is a private key (with `tls.passphrase` if encrypted) of that certificate,
 * so that a wrong key is a `TypeError` at construction rather than a TLS failure on the first request.
 */
export function certificateThumbprint(tls: TlsOptions): string {
  let certificate: X509Certificate;
  try {
    certificate = new X509Certificate(tls.cert);
  } catch {
    throw new TypeError('m2m-token: option `tls.cert` is not a PEM certificate');
  }
  let key: KeyObject;
  try {
    key = createPrivateKey({ key: tls.key, passphrase: tls.passphrase });
  } catch {
    throw new TypeError('m2m-token: option `tls.key` is not a PEM private key (or `tls.passphrase` does not decrypt it)');
  }
  if (!certificate.checkPrivateKey(key)) throw new TypeError('m2m-token: option `tls.key` is not the private key of the `tls.cert` certificate');
  return createHash('sha256').update(certificate.raw).digest('base64url');
}

/**
 * A `fetch` that presents the client certificate: undici's `fetch` with one `Agent` for the client,
 * loaded on first use. `close()` destroys the agent's connections.
 */
export function mtlsFetch(tls: TlsOptions): { fetch: typeof globalThis.fetch; close(): Promise<void> } {
  let agent: Promise<{ undici: typeof import('undici'); dispatcher: import('undici').Agent }> | undefined;
  const ready = () => {
    if (agent === undefined) {
      agent = loadUndici('mutual TLS').then((undici) => ({
        undici,
        dispatcher: new undici.Agent({ connect: { cert: tls.cert, key: tls.key, ca: tls.ca as string[] | undefined, passphrase: tls.passphrase } }),
      }));
      agent.catch(() => {
        agent = undefined;
      });
    }
    return agent;
  };
  const fetch = (async (input: string | URL | Request, init?: RequestInit) => {
    const { undici, dispatcher } = await ready();
    if (typeof input === 'object' && !(input instanceof URL) && !(input instanceof undici.Request)) {
      // A Request of Node's own fetch is not one to the undici package (it would be read as the URL
      // "[object Request]"): send its parts instead, with `init` taking precedence as fetch() does.
      const { url, method, headers, body, redirect, signal } = input;
      return undici.fetch(url, { method, headers, body, redirect, signal, ...(body !== null && { duplex: 'half' }), ...(init as object), dispatcher } as never);
    }
    return undici.fetch(input as never, { ...(init as object), dispatcher } as never);
  }) as unknown as typeof globalThis.fetch;
  return {
    fetch,
    // Destroyed, not closed: close() would wait for every response body a caller never read, and
    // requests still in flight are abandoned on close anyway. Never rejects.
    close: async () => {
      await agent?.then((a) => a.dispatcher.destroy(), () => {}).catch(() => {});
    },
  };
}
