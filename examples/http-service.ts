/**
 * An HTTP service whose handler calls a downstream API with `client.fetch`: the token is attached,
 * cached, refreshed ahead of expiry and renewed once on a 401, without the handler knowing.
 *
 *   npx tsx examples/http-service.ts
 *
 * The example starts the service on 127.0.0.1, sends it two requests itself, prints what came back and
 * stops. Against your own servers: M2M_TOKEN_ENDPOINT, M2M_CLIENT_ID, M2M_CLIENT_SECRET and M2M_API_URL.
 */
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { ClientCredentialsClient, TokenError } from 'm2m-token';
import { exampleEnvironment, requireApiUrl } from './support/env.js';

const env = await exampleEnvironment();
const apiUrl = requireApiUrl(env);
// One client for the whole process: every request handler shares its cached token.
const client = new ClientCredentialsClient(env.client);

const service = createServer(async (req, res) => {
  try {
    // The downstream call: `client.fetch` is `fetch` with `Authorization: Bearer …` added.
    const upstream = await client.fetch(new URL(req.url ?? '/', apiUrl), { headers: { accept: 'application/json' } });
    const body = await upstream.text();
    res.writeHead(upstream.ok ? 200 : 502, { 'content-type': 'application/json' });
    res.end(upstream.ok ? body : JSON.stringify({ error: 'upstream', status: upstream.status }));
  } catch (error) {
    // No token could be had (the authorization server is down, the credentials are wrong, …).
    const code = TokenError.is(error) ? error.code : 'INTERNAL';
    res.writeHead(503, { 'content-type': 'application/json' });
    res.end(JSON.stringify({ error: 'unavailable', code }));
  }
});
service.listen(0, '127.0.0.1');
await new Promise((resolve) => service.once('listening', resolve));
const serviceUrl = `http://127.0.0.1:${(service.address() as AddressInfo).port}`;
console.log(`service listening on ${serviceUrl}`);

try {
  // What a caller of the service would do; both requests are served with the same cached token.
  for (const path of ['/orders?status=open', '/orders/42']) {
    const res = await fetch(`${serviceUrl}${path}`);
    console.log(`GET ${path} -> ${res.status} ${await res.text()}`);
  }
  if (env.tokensIssued) console.log(`token requests: ${env.tokensIssued()} (one token served both)`);
} finally {
  service.close();
  service.closeAllConnections();
  await client.close({ revoke: true });
  await env.close();
}
