/**
 * A long-running service that revokes its token when it is stopped: on SIGTERM (what Kubernetes,
 * systemd and Docker send) or SIGINT (Ctrl+C) it calls `client.close({ revoke: true })`, so the token it
 * held is useless from then on, and exits 0 once everything has drained.
 *
 *   npx tsx examples/graceful-shutdown.ts     # then Ctrl+C, or: kill -TERM <pid>
 *
 * Against your own server: M2M_TOKEN_ENDPOINT, M2M_CLIENT_ID, M2M_CLIENT_SECRET, M2M_REVOCATION_ENDPOINT
 * (without it close() reports a CONFIG error and revokes nothing) and optionally M2M_API_URL.
 */
import { ClientCredentialsClient } from 'm2m-token';
import { exampleEnvironment } from './support/env.js';

const env = await exampleEnvironment();
const client = new ClientCredentialsClient(env.client);

// The service's work: call the API every second (or just keep a token warm when there is no API).
let calls = 0;
const work = async () => {
  if (env.apiUrl === undefined) await client.getToken();
  else {
    const res = await client.fetch(`${env.apiUrl}/orders`);
    await res.body?.cancel();
    if (!res.ok) throw new Error(`the API answered ${res.status}`);
  }
  calls++;
};
await work();
const timer = setInterval(() => {
  work().catch((error: Error) => console.error(`work failed: ${error.message}`));
}, 1000);

let stopping = false;
async function shutdown(signal: NodeJS.Signals): Promise<void> {
  if (stopping) return;
  stopping = true;
  console.log(`${signal} received, shutting down after ${calls} call(s)`);
  clearInterval(timer);
  const held = await client.getToken(); // the cached token, kept only to show it is revoked below

  // Revokes every token the client holds, within 5 s; never rejects.
  const { revoked, errors } = await client.close({ revoke: true, timeout: 5000 });
  console.log(`client closed: ${revoked} token(s) revoked, ${errors.length} error(s)`);
  for (const error of errors) console.log(`  ${error.code}: ${error.message}`);

  if (env.introspect !== undefined) {
    const active = await env.introspect(held.accessToken);
    console.log(`token after shutdown: ${active ? 'still ACTIVE' : 'inactive (revoked)'}`);
  }
  await env.close();
  // Nothing is left running, so the process now exits by itself, with code 0: close() never rejects and
  // what it could not revoke is reported above.
}
const onSignal = (signal: NodeJS.Signals) => {
  shutdown(signal).catch((error: Error) => {
    console.error(`shutdown failed: ${error.message}`);
    process.exit(1);
  });
};
process.once('SIGTERM', onSignal);
process.once('SIGINT', onSignal);

console.log(`ready (pid ${process.pid}): working; stop with Ctrl+C or kill -TERM ${process.pid}`);
