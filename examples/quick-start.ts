/**
 * Quick start: get an access token with the client credentials grant and look at it.
 *
 *   npx tsx examples/quick-start.ts
 *
 * Runs against an embedded authorization server, or yours with M2M_TOKEN_ENDPOINT, M2M_CLIENT_ID,
 * M2M_CLIENT_SECRET (and optionally M2M_SCOPE, M2M_AUDIENCE).
 */
import { ClientCredentialsClient } from 'm2m-token';
import { exampleEnvironment, fingerprint } from './support/env.js';

const env = await exampleEnvironment();
const client = new ClientCredentialsClient(env.client);

try {
  const token = await client.getToken();
  // Never log `token.accessToken`. The Token object itself is safe to log: the value is not enumerable.
  console.log(`token type:  ${token.tokenType}`);
  console.log(`expires in:  ${Math.round((token.expiresAt - Date.now()) / 1000)} s (${new Date(token.expiresAt).toISOString()})`);
  console.log(`scope:       ${token.scope ?? '(none granted)'}`);
  console.log(`fingerprint: ${fingerprint(token.accessToken)} (sha256 prefix; the token itself is not printed)`);
  console.log(`logged:      ${JSON.stringify(token)}`);

  const again = await client.getToken();
  console.log(`cached:      ${again === token ? 'yes, the second getToken() returned the same token' : 'no'}`);
} finally {
  await client.close();
  await env.close();
}
