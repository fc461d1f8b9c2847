
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
  let cached: { readonly mtimeMs: number; readonly size: number; readonly ino: number; readonly value: string } | undefined;
  return async () => {
    // Loaded here, not at import: node:fs/promises brings in more of Node.js than a client otherwise needs.
    const { readFile, stat } = process.getBuiltinModule('node:fs/promises');
    const { mtimeMs, size, ino } = await stat(path);
    if (cached !== undefined && cached.mtimeMs === mtimeMs && cached.size === size && cached.ino === ino) return cached.value;
    const value = (await readFile(path, 'utf8')).replace(/[\r\n]+$/, '');
    cached = { mtimeMs, size, ino, value };
    return value;
  };
}
