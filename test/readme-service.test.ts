/**
 * The README's "Use it in your service" block, run as written against the embedded authorization server
 * and protected API: only its example URLs, client id and scope are swapped for the embedded ones, and
 * `listen(8080)` for a free loopback port. On SIGTERM the service must stop its HTTP server, revoke its
 * token through the endpoint discovered from the issuer, report it, and exit 0 — not linger because the
 * HTTP server keeps the process alive, and not "succeed" with a CONFIG error it never looks at.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, expect, test } from 'vitest';
import {
  type AuthorizationServer,
  demoClients,
  type ResourceServer,
  startAuthorizationServer,
  startResourceServer,
} from '../examples/support/embedded-server.js';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const TSX = fileURLToPath(new URL('../node_modules/.bin/tsx', import.meta.url));
const KILL_AFTER = 20_000;

/** The first ```ts block after the heading `## Use it in your service`. */
function serviceSnippet(): string {
  const readme = readFileSync(new URL('../README.md', import.meta.url), 'utf8');
  const section = readme.indexOf('\n## Use it in your service\n');
  expect(section, 'README has no "## Use it in your service" section').toBeGreaterThan(-1);
  const block = /```ts\n([\s\S]*?)\n```/.exec(readme.slice(section));
  expect(block, 'no ts block in "Use it in your service"').not.toBeNull();
  return block![1]!;
}

/** Replaces `from` by `to`, failing (with what to update) if the README no longer contains `from`. */
function swap(code: string, from: string, to: string): string {
  expect(code.includes(from), `the README's service block no longer contains ${JSON.stringify(from)}: update this test`).toBe(true);
  return code.replace(from, to);
}

let auth: AuthorizationServer;
let api: ResourceServer;
beforeAll(async () => {
  auth = await startAuthorizationServer();
  api = await startResourceServer({ introspectionEndpoint: auth.introspectionEndpoint, ...demoClients.resourceServer });
});
afterAll(async () => {
  await api?.close();
  await auth?.close();
});

test("the README's service block answers with the API's response, then on SIGTERM revokes its token and exits 0", {
  timeout: KILL_AFTER + 5_000,
}, async () => {
  let code = serviceSnippet();
  code = swap(code, "issuer: 'https://auth.example.com',", `issuer: '${auth.issuer}',`);
  code = swap(code, "clientId: 'svc-orders',", `clientId: '${demoClients.basic.clientId}',`);
  code = swap(code, "scope: ['inventory:read'],", "scope: ['orders:read'],");
  code = swap(code, "'https://inventory.example.com/items'", `'${api.url}/orders'`);
  code = swap(
    code,
    'server.listen(8080);',
    "server.listen(0, '127.0.0.1', () => console.log(`listening on ${(server.address() as import('node:net').AddressInfo).port}`));",
  );
  const dir = `${ROOT}.tmp/readme-service`;
  mkdirSync(dir, { recursive: true });
  const file = `${dir}/service-${process.pid}.ts`;
  writeFileSync(file, code);

  let destroyed = 0;
  const onDestroyed = () => destroyed++;
  auth.provider.on('client_credentials.destroyed', onDestroyed);

  const env = Object.fromEntries(Object.entries(process.env).filter(([name]) => !name.startsWith('M2M_')));
  const child: ChildProcess = spawn(TSX, [file], {
    cwd: ROOT,
    env: { ...env, CLIENT_SECRET: demoClients.basic.clientSecret, NO_COLOR: '1' },
    detached: true,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  child.stderr!.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));
  let timedOut = false;
  const timer = setTimeout(() => {
    timedOut = true;
    process.kill(-child.pid!, 'SIGKILL');
  }, KILL_AFTER);
  const exited = new Promise<number | null>((resolve) => child.once('close', (status) => resolve(status)));
  try {
    const port = await new Promise<number>((resolve, reject) => {
      child.stdout!.setEncoding('utf8').on('data', (chunk: string) => {
        stdout += chunk;
        const match = /^listening on (\d+)$/m.exec(stdout);
        if (match) resolve(Number(match[1]));
      });
      void exited.then(() => reject(new Error(`the service exited before listening\n${stdout}\n${stderr}`)));
    });

    const res = await fetch(`http://127.0.0.1:${port}/`);
    expect(res.status).toBe(200);
    expect(await res.json()).toMatchObject({ path: '/orders', client_id: demoClients.basic.clientId });
    expect(auth.issued()).toBe(1);

    child.kill('SIGTERM'); // to tsx, which passes it on to the service's process
    const status = await exited;
    const transcript = `--- stdout ---\n${stdout}\n--- stderr ---\n${stderr}`;
    expect(timedOut, `still running ${KILL_AFTER} ms after SIGTERM\n${transcript}`).toBe(false);
    expect(status, transcript).toBe(0);
    expect(stderr, transcript).toBe('');
    expect(stdout).toMatch(/^stopped; 1 token\(s\) revoked$/m);
    expect(destroyed, 'the authorization server did not revoke the token').toBe(1);
  } finally {
    clearTimeout(timer);
    auth.provider.off('client_credentials.destroyed', onDestroyed);
    if (child.exitCode === null && child.signalCode === null) process.kill(-child.pid!, 'SIGKILL');
    rmSync(file, { force: true });
  }
});
