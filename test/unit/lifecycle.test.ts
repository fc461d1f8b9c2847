import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { fileURLToPath } from 'node:url';
import { http, HttpResponse } from 'msw';
import { runFixture } from '../helpers/child.js';
import { describe, expect, it } from 'vitest';
import { ClientCredentialsClient, TokenError } from '../../src/index.js';
import { TOKEN_URL, tokenEndpoint, useMswServer } from '../helpers/msw.js';
import { SECRET, heldEndpoint, rejectionOf, useClients, within } from '../helpers/core.js';
import { sleep } from '../helpers/time.js';

const server = useMswServer();
const makeClient = useClients();

describe('close()', () => {
  it('makes later getToken() calls reject with CLOSED, even with a cached token', async () => {
    const { handler, seen } = tokenEndpoint();
    server.use(handler);
    const client = makeClient();
    await client.getToken();
    await client.close();
    const error = await rejectionOf(client.getToken());
    expect(TokenError.is(error)).toBe(true);
    expect(error.code).toBe('CLOSED');
    expect((await rejectionOf(client.getToken({ scope: 'other' }))).code).toBe('CLOSED');
    expect(seen).toHaveLength(1);
  });

  it('rejects callers waiting on an in-flight request with CLOSED and abandons the request', async () => {
    const held = heldEndpoint();
    server.use(held.handler);
    const client = makeClient();
    const waiting = Array.from({ length: 10 }, () => client.getToken());
    const request = await held.arrived(1);
    expect(request.aborted).toBe(false);
    await client.close();
    const errors = await Promise.all(waiting.map((w) => rejectionOf(within(w, 1000))));
    for (const e of errors) expect(e.code).toBe('CLOSED');
    expect(request.aborted).toBe(true);
  });

  it('stops a request that waits for a retry at once', async () => {
    server.use(http.post(TOKEN_URL, () => new HttpResponse('busy', { status: 503, headers: { 'retry-after': '3600' } })));
    const client = makeClient({ retry: { retries: 3, minDelay: 1, maxDelay: 3_600_000 } });
    const call = client.getToken();
    await sleep(30);
    await client.close();
    expect((await rejectionOf(within(call, 1000))).code).toBe('CLOSED');
  });

  it('is idempotent and resolves with nothing revoked when revoke is not asked for', async () => {
    const client = makeClient();
    const first = client.close();
    expect(client.close()).toBe(first);
    expect(await first).toEqual({ revoked: 0, errors: [], skipped: 0 });
  });

  it('closes the client at the end of an `await using` block', async () => {
    const { handler } = tokenEndpoint();
    server.use(handler);
    let escaped: ClientCredentialsClient | undefined;
    {
      await using client = new ClientCredentialsClient({ tokenEndpoint: TOKEN_URL, clientId: 'svc-a', clientSecret: SECRET });
      await client.getToken();
      escaped = client;
    }
    expect((await rejectionOf(escaped.getToken())).code).toBe('CLOSED');
  });
});

describe('timers', () => {
  it('do not keep the process alive: a child that gets a token and returns without close() exits by itself', async () => {
    const seen: string[] = [];
    const tokenServer = createServer((req, res) => {
      req.resume();
      req.on('end', () => {
        seen.push(req.url ?? '');
        if (seen.length === 1) {
          res.writeHead(200, { 'content-type': 'application/json' });
          res.end(JSON.stringify({ access_token: 'child-token-1', token_type: 'Bearer', expires_in: 3600 }));
        } else {
          res.writeHead(503, { 'retry-after': '3600' });
          res.end('try again in an hour');
        }
      });
    });
    await new Promise<void>((resolve) => tokenServer.listen(0, '127.0.0.1', resolve));
    const { port } = tokenServer.address() as AddressInfo;
    try {
      const script = fileURLToPath(new URL('../fixtures/unref-child.ts', import.meta.url));
      const run = await runFixture(script, [`http://127.0.0.1:${port}/token`], { timeout: 10_000 });
      const { stdout, stderr } = run;
      const exit = { code: run.code, killed: run.killed };
      expect(exit, `stderr: ${stderr}`).toEqual({ code: 0, killed: false });
      expect(JSON.parse(stdout)).toEqual({ first: 'child-token-1', second: 'child-token-1' });
      // The background refresh was sent and was waiting out Retry-After when the child exited.
      expect(seen).toEqual(['/token', '/token']);
    } finally {
      tokenServer.closeAllConnections();
      await new Promise((resolve) => tokenServer.close(resolve));
    }
  });
});
