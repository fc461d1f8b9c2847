import { inspect } from 'node:util';
import { HttpResponse } from 'msw';
import { describe, expect, it } from 'vitest';
import { MemoryTokenStore, type StoredToken, type TokenStore } from '../../src/index.js';
import { rejectionOf, SECRET, tokenJson, useClients } from '../helpers/core.js';
import { REVOKE_URL, revocationEndpoint, type SeenRequest, tokenEndpoint, useMswServer } from '../helpers/msw.js';

const server = useMswServer();
const makeClient = useClients();

const refreshToken = (n: number) => `RT-must-never-leak-${n}`;

/**
 * A server that issues a refresh token with every token and rotates it: each refresh token is accepted
 * once; a used or unknown one is `invalid_grant`.
 */
function rotatingServer({ issueOnRefresh = true } = {}) {
  const valid = new Set<string>();
  let issued = 0;
  const endpoint = tokenEndpoint((n, seen) => {
    if (seen.form.get('grant_type') === 'refresh_token') {
      const presented = seen.form.get('refresh_token')!;
      if (!valid.has(presented)) return HttpResponse.json({ error: 'invalid_grant' }, { status: 400 });
      if (issueOnRefresh) valid.delete(presented);
      else return tokenJson(`tok-${n}`);
    }
    const next = refreshToken(++issued);
    valid.add(next);
    return tokenJson(`tok-${n}`, 3600, { refresh_token: next });
  });
  server.use(endpoint.handler);
  return { ...endpoint, valid };
}

const grants = (seen: readonly SeenRequest[]) =>
  seen.map((s) => `${s.form.get('grant_type')}${s.form.has('refresh_token') ? `:${s.form.get('refresh_token')}` : ''}`);

describe('refresh tokens', () => {
  it('renews with the refresh token, authenticated as the client, and keeps the newest one the server rotates to', async () => {
    const endpoint = rotatingServer();
    const client = makeClient({ scope: 'orders:read' });
    await client.getToken();
    await client.getToken({ forceRefresh: true });
    const third = await client.getToken({ forceRefresh: true });
    expect(third.accessToken).toBe('tok-3');
    expect(grants(endpoint.seen)).toEqual(['client_credentials', `refresh_token:${refreshToken(1)}`, `refresh_token:${refreshToken(2)}`]);
    const refresh = endpoint.seen[1]!;
    expect(refresh.headers.get('authorization')).toMatch(/^Basic /);
    expect(refresh.form.get('scope')).toBe('orders:read');
  });

  it('keeps the refresh token it sent when the server does not rotate it', async () => {
    const endpoint = rotatingServer({ issueOnRefresh: false });
    const client = makeClient();
    await client.getToken();
    await client.getToken({ forceRefresh: true });
    await client.getToken({ forceRefresh: true });
    expect(grants(endpoint.seen)).toEqual(['client_credentials', `refresh_token:${refreshToken(1)}`, `refresh_token:${refreshToken(1)}`]);
  });

  it('falls back to the client credentials grant when the refresh token is refused (invalid_grant)', async () => {
    const endpoint = rotatingServer();
    const client = makeClient();
    await client.getToken();
    endpoint.valid.clear(); // revoked on the server
    const token = await client.getToken({ forceRefresh: true });
    expect(token.accessToken).toBe('tok-3');
    expect(grants(endpoint.seen)).toEqual(['client_credentials', `refresh_token:${refreshToken(1)}`, 'client_credentials']);
  });

  it('falls back on any refusal of the refresh grant itself (unauthorized_client, a bare 400), not on a 5xx', async () => {
    for (const [refusal, fallsBack] of [
      [HttpResponse.json({ error: 'unauthorized_client' }, { status: 400 }), true],
      [new HttpResponse(null, { status: 400 }), true],
      [HttpResponse.json({ error: 'server_error' }, { status: 500 }), false],
    ] as const) {
      const endpoint = tokenEndpoint((n, seen) =>
        seen.form.get('grant_type') === 'refresh_token' ? refusal.clone() : tokenJson(`tok-${n}`, 3600, { refresh_token: refreshToken(n) }),
      );
      server.use(endpoint.handler);
      const client = makeClient();
      await client.getToken();
      const again = client.getToken({ forceRefresh: true });
      if (fallsBack) expect((await again).accessToken).toBe('tok-3');
      else expect((await rejectionOf(again)).status).toBe(500);
      expect(grants(endpoint.seen).map((g) => g.split(':')[0])).toEqual(
        fallsBack ? ['client_credentials', 'refresh_token', 'client_credentials'] : ['client_credentials', 'refresh_token'],
      );
    }
  });

  it('refreshTokens: false ignores them', async () => {
    const endpoint = rotatingServer();
    const client = makeClient({ refreshTokens: false });
    await client.getToken();
    await client.getToken({ forceRefresh: true });
    expect(grants(endpoint.seen)).toEqual(['client_credentials', 'client_credentials']);
  });

  it('a refresh token shows nowhere: token inspect and JSON, events, logs, errors, the store', async () => {
    const lines: string[] = [];
    const log = (...args: unknown[]) => lines.push(inspect(args, { depth: 10, showHidden: true }));
    const stored: StoredToken[] = [];
    const memory = new MemoryTokenStore();
    const store: TokenStore = {
      get: (key) => memory.get(key),
      set: (key, token, ttl) => {
        stored.push(token);
        return memory.set(key, token, ttl);
      },
      delete: (key, value) => memory.delete(key, value),
    };
    server.use(
      tokenEndpoint((n, seen) =>
        seen.form.get('grant_type') === 'refresh_token'
          ? HttpResponse.json({ error: 'server_error', error_description: `cannot use ${seen.form.get('refresh_token')}` }, { status: 500 })
          : tokenJson(`tok-${n}`, 3600, { refresh_token: refreshToken(n) }),
      ).handler,
    );
    const client = makeClient({ store, logger: { debug: log, info: log, warn: log, error: log } });
    const events: unknown[] = [];
    for (const name of ['token', 'error', 'retry', 'revoke'] as const) client.on(name, (event) => events.push(event));
    const token = await client.getToken();
    const error = await rejectionOf(client.getToken({ forceRefresh: true }));
    expect(error.code).toBe('OAUTH_ERROR');
    const everything = [
      inspect(token, { showHidden: true, getters: true, depth: 10 }),
      JSON.stringify(token),
      inspect(error, { depth: 10, showHidden: true }),
      JSON.stringify(stored),
      inspect(events, { depth: 10, showHidden: true }),
      ...lines,
    ].join('\n');
    expect(everything).toContain('tok-1');
    expect(everything).not.toContain('RT-must-never-leak');
    expect(everything).not.toContain(SECRET);
  });

  it('revoke() and close({ revoke: true }) revoke the refresh token too, with its hint', async () => {
    rotatingServer();
    const revocation = revocationEndpoint();
    server.use(revocation.handler);
    const first = makeClient({ revocationEndpoint: REVOKE_URL });
    await first.getToken();
    await first.revoke();
    const second = makeClient({ revocationEndpoint: REVOKE_URL });
    await second.getToken();
    expect(await second.close({ revoke: true })).toMatchObject({ revoked: 1, errors: [] });
    expect(revocation.seen.map((s) => `${s.form.get('token_type_hint')}:${s.token}`)).toEqual([
      `refresh_token:${refreshToken(1)}`,
      'access_token:tok-1',
      `refresh_token:${refreshToken(2)}`,
      'access_token:tok-2',
    ]);
  });
});
