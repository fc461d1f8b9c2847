import type { TlsOptions } from './mtls.js';

/** node:fs/promises, loaded on first use: at import it brings in more of Node.js than a client otherwise needs. */
const fs = () => process.getBuiltinModule('node:fs/promises');

/**
 * A provider of a secret kept in a file: a mounted Kubernetes secret, a projected service account token,
 * a file a sidecar rewrites. Each call stats the path (following symbolic links, so the `..data` symlink
 * swap Kubernetes does when it updates a mounted secret is seen) and reads the file again only when its
 * modification time, size or inode changed. Trailing line breaks are removed.
 *
 * Use it for `clientSecret`, or for `assertion.token` (which also accepts `{ file }`).
 *
 * @param path The file's path.
 * @returns A function that resolves with the file's current content; it rejects when the file cannot be read.
 * @example
 * ```ts
 * const client = new ClientCredentialsClient({
 *   tokenEndpoint: 'https://auth.example.com/oauth/token',
 *   clientId: 'my-service',
 *   clientSecret: secretFromFile('/var/run/secrets/my-service/client-secret'),
 * });
 * ```
 */
export function secretFromFile(path: string): () => Promise<string> {
  if (typeof path !== 'string' || path === '') throw new TypeError('m2m-token: secretFromFile(path) needs a non-empty path');
  let cached: { readonly version: string; readonly value: string } | undefined;
  return async () => {
    const version = versionOf(await fs().stat(path));
    if (cached?.version === version) return cached.value;
    const value = (await fs().readFile(path, 'utf8')).replace(/[\r\n]+$/, '');
    cached = { version, value };
    return value;
  };
}

/** The files of a client certificate for {@link tlsFromFiles}: paths of PEM files. */
export interface TlsFiles {
  /** The client certificate (chain), PEM: cert-manager's `tls.crt`. */
  readonly cert: string;
  /** Its private key, PEM: cert-manager's `tls.key`. */
  readonly key: string;
  /** Certificate authorities to trust for the servers, PEM: cert-manager's `ca.crt`. @default Node's default CAs */
  readonly ca?: string | undefined;
  /** Passphrase of an encrypted key (a value, not a path). */
  readonly passphrase?: string | undefined;
}

/** How many times the files are read again when they change while being read. */
const CONSISTENT_READS = 3;

/**
 * A provider for the `tls` option that reads a client certificate from PEM files, for certificates that
 * rotate: a cert-manager `Certificate` mounted from its secret, a SPIFFE helper's SVID files. Each call
 * stats the files (following symbolic links, as {@link secretFromFile} does) and reads them again only
 * when one changed; it returns the same object while none did. Files that change while being read (the
 * certificate rewritten before its key) are read again, a few times, so that a certificate is not paired
 * with the previous key; when a writer is slower than that, the client's check (the key must belong to
 * the certificate) fails the request with `CONFIG`, and the next request reads the files again.
 *
 * @param files The paths of the certificate, its key and, optionally, the CAs to trust.
 * @returns A function that resolves with the current TLS options; it rejects when a file cannot be read.
 * @example
 * ```ts
 * const client = new ClientCredentialsClient({
 *   tokenEndpoint: 'https://auth.example.com/oauth/token',
 *   clientId: 'my-service',
 *   tls: tlsFromFiles({ cert: '/etc/tls/tls.crt', key: '/etc/tls/tls.key', ca: '/etc/tls/ca.crt' }),
 * });
 * ```
 */
export function tlsFromFiles(files: TlsFiles): () => Promise<TlsOptions> {
  const { cert, key, ca, passphrase } = (typeof files === 'object' && files !== null ? files : {}) as Partial<TlsFiles>;
  for (const [name, path] of Object.entries({ cert, key, ca })) {
    if ((name !== 'ca' || path !== undefined) && (typeof path !== 'string' || path === ''))
      throw new TypeError(`m2m-token: tlsFromFiles({ ${name} }) needs the path of a PEM file`);
  }
  if (passphrase !== undefined && typeof passphrase !== 'string')
    throw new TypeError('m2m-token: tlsFromFiles({ passphrase }) must be a string');
  const paths = [cert!, key!, ...(ca === undefined ? [] : [ca])];
  const versions = () => Promise.all(paths.map(async (path) => versionOf(await fs().stat(path)))).then((all) => all.join('\n'));
  let cached: { readonly version: string; readonly tls: TlsOptions } | undefined;
  return async () => {
    for (let attempt = 1; ; attempt++) {
      const version = await versions();
      if (cached?.version === version) return cached.tls;
      const [certPem, keyPem, caPem] = await Promise.all(paths.map((path) => fs().readFile(path, 'utf8')));
      if (attempt < CONSISTENT_READS && (await versions()) !== version) continue;
      const tls: TlsOptions = {
        cert: certPem,
        key: keyPem,
        ...(caPem !== undefined && { ca: caPem }),
        ...(passphrase !== undefined && { passphrase }),
      };
      cached = { version, tls };
      return tls;
    }
  };
}

/** What tells a file changed: its modification time, size and inode. */
function versionOf({ mtimeMs, size, ino }: { mtimeMs: number; size: number; ino: number }): string {
  return `${mtimeMs}:${size}:${ino}`;
}
