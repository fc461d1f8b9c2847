import { createHash, X509Certificate } from 'node:crypto';
import { loadUndici } from './optional.js';

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
  ca?: string | Buffer | readonly (string | Buffer)[];
  /** Passphrase of an encrypted `key`. */
  passphrase?: string;
}

/** The SHA-256 thumbprint of the certificate (as in `x5t#S256`): tokens are cached per certificate. */
export function certificateThumbprint(tls: TlsOptions): string {
  try {
    return createHash('sha256').update(new X509Certificate(tls.cert).raw).digest('base64url');
  } catch {
    throw new TypeError('m2m-token: option `tls.cert` is not a PEM certificate');
  }
}

/**
 * A `fetch` that presents the client certificate: undici's `fetch` with one `Agent` for the client,
 * loaded on first use. `close()` closes the agent's connections.
 */
export function mtlsFetch(tls: TlsOptions): { fetch: typeof globalThis.fetch; close(): Promise<void> } {
  let agent: Promise<{ undici: typeof import('undici'); dispatcher: import('undici').Agent }> | undefined;
  const ready = () => {
    agent ??= loadUndici('mutual TLS').then((undici) => ({
      undici,
      dispatcher: new undici.Agent({ connect: { cert: tls.cert, key: tls.key, ca: tls.ca as string[] | undefined, passphrase: tls.passphrase } }),
    }));
    agent.catch(() => {
      agent = undefined;
    });
    return agent;
  };
  const fetch = (async (input: string | URL | Request, init?: RequestInit) => {
    const { undici, dispatcher } = await ready();
    return undici.fetch(input as never, { ...(init as object), dispatcher } as never);
  }) as unknown as typeof globalThis.fetch;
  return {
    fetch,
    close: async () => {
      if (agent !== undefined) await (await agent).dispatcher.close().catch(() => {});
    },
  };
}
