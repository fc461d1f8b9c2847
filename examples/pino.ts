/**
 * Logging with pino: give the client a pino logger as `logger` and it logs token acquisition (debug),
 * retries (warn), failures (error; warn for a failed background refresh, since callers still have a
 * token) and revocations (info). Each call is `(fields, message)`, pino's own shape, and the fields hold
 * no secret and no token: a short SHA-256 `fingerprint` tells tokens apart.
 *
 *   npx tsx examples/pino.ts                       # JSON lines
 *   npx tsx examples/pino.ts | npx pino-pretty     # readable (pino-pretty is not a dependency here)
 *
 * Runs against an embedded authorization server, or yours with M2M_TOKEN_ENDPOINT, M2M_CLIENT_ID,
 * M2M_CLIENT_SECRET (and optionally M2M_SCOPE, M2M_REVOCATION_ENDPOINT).
 */
import { ClientCredentialsClient } from 'm2m-token';
import pino from 'pino';
import { exampleEnvironment } from './support/env.js';

const env = await exampleEnvironment();

// `debug` shows every token acquisition; at pino's default `info` you get revocations, retries and failures.
const logger = pino({ level: 'debug' }).child({ component: 'm2m-token' });

// The first token request fails as if the network had dropped it, so that a retry is logged.
let dropped = false;
const flakyFetch: typeof fetch = (input, init) => {
  if (!dropped) {
    dropped = true;
    return Promise.reject(new TypeError('fetch failed (simulated by the example)'));
  }
  return fetch(input, init);
};

const client = new ClientCredentialsClient({ ...env.client, logger, fetch: flakyFetch, retry: { minDelay: 50 } });
// A client with a wrong secret, to show how a failure is logged.
const misconfigured = new ClientCredentialsClient({ ...env.client, clientSecret: 'not-the-secret', retry: false, logger });

try {
  await client.getToken(); // warn: attempt 1 failed (NETWORK), then debug: token acquired
  await client.getToken(); // cached: nothing is logged
  await misconfigured.getToken().catch(() => {}); // error: invalid_client
  await client.close({ revoke: true }); // info: token <fingerprint> revoked
} finally {
  await client.close();
  await misconfigured.close();
  await env.close();
}
