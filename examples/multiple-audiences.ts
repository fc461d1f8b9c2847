/**
 * One client, several kinds of token: each distinct scope / audience / resource (RFC 8707) gets its own
 * token, cached and refreshed on its own; asking again returns the cached one.
 *
 *   npx tsx examples/multiple-audiences.ts
 *
 * Against your own server: M2M_TOKEN_ENDPOINT, M2M_CLIENT_ID, M2M_CLIENT_SECRET, plus M2M_SCOPE (each of
 * its scopes gets a token of its own), M2M_AUDIENCE, M2M_RESOURCE and M2M_API_URL as your server needs.
 */
import { ClientCredentialsClient, type GetTokenOptions, type Token } from 'm2m-token';
import { exampleEnvironment, fingerprint } from './support/env.js';

const env = await exampleEnvironment();
const client = new ClientCredentialsClient(env.client);

try {
  // Fetch wrappers with a scope of their own, restricted to the API's origin.
  if (env.apiUrl !== undefined) {
    for (const scope of env.scopes) {
      const api = client.createFetch({ scope, allowedOrigins: [env.apiUrl] });
      const res = await api(`${env.apiUrl}/orders`);
      const seen = res.ok ? ((await res.json()) as { scope?: string }).scope : undefined;
      console.log(`createFetch({ scope: '${scope}' }) -> ${res.status}${seen ? `, the API saw scope "${seen}"` : ''}`);
    }
  }

  // getToken() per target; the scope targets share the tokens the wrappers above already got.
  const targets: GetTokenOptions[] = [
    ...env.scopes.map((scope) => ({ scope })),
    ...(env.audience === undefined ? [] : [{ audience: env.audience }]),
    ...(env.resource === undefined ? [] : [{ resource: env.resource }]),
  ];
  const seen = new Set<string>();
  for (const target of targets) {
    const token = await client.getToken(target);
    const again = await client.getToken(target);
    seen.add(token.accessToken);
    const [name, value] = Object.entries(target)[0]!;
    console.log(
      `getToken({ ${name}: '${value}' })`.padEnd(50) +
        ` token ${fingerprint(token.accessToken)}, ${describe(token)}, asked again: ${again === token ? 'cached' : 'new token'}`,
    );
  }
  console.log(`${targets.length} targets -> ${seen.size} distinct tokens`);
  if (env.tokensIssued) console.log(`token requests: ${env.tokensIssued()}`);
} finally {
  await client.close({ revoke: true });
  await env.close();
}

/** Scope, and for a JWT access token (RFC 9068) its audience; a JWT's claims are not secret, its signature is. */
function describe(token: Token): string {
  const parts = token.accessToken.split('.');
  const scope = `scope "${token.scope ?? ''}"`;
  if (parts.length !== 3) return `${scope}, opaque`;
  try {
    const claims = JSON.parse(Buffer.from(parts[1]!, 'base64url').toString()) as { aud?: unknown };
    return `${scope}, JWT for aud ${JSON.stringify(claims.aud)}`;
  } catch {
    return `${scope}, opaque`;
  }
}
