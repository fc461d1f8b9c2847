import { HttpResponse } from 'msw';
import { describe, expect, it } from 'vitest';
import { OAuthError, TokenError } from '../../src/index.js';
import { tokenEndpoint, useMswServer } from '../helpers/msw.js';
import { heldEndpoint, stateOf, useClients } from '../helpers/core.js';

const server = useMswServer();
const makeClient = useClients();

describe('single flight', () => {
  it('sends one token request for 200 concurrent callers and gives them all the same token', async () => {
    const held = heldEndpoint();
    server.use(held.handler);
    const client = makeClient();
    const calls = Array.from({ length: 200 }, () => client.getToken());
    const first = await held.arrived(1);
    expect(await stateOf(Promise.all(calls))).toBe('pending');
    first.respond();
    const tokens = await Promise.all(calls);
    expect(held.requests).toHaveLength(1);
    expect(new Set(tokens).size).toBe(1);
    expect(tokens[0]!.accessToken).toBe('tok-1');
  });

  it('delivers a failure to every concurrent caller, with the same code', async () => {
    const { handler, seen } = tokenEndpoint(() =>
      HttpResponse.json({ error: 'invalid_scope', error_description: 'nope' }, { status: 400 }),
    );
    server.use(handler);
    const client = makeClient();
    const results = await Promise.allSettled(Array.from({ length: 200 }, () => client.getToken()));
    expect(seen).toHaveLength(1);
    for (const r of results) {
      expect(r.status).toBe('rejected');
      const reason = (r as PromiseRejectedResult).reason;
      expect(reason).toBeInstanceOf(OAuthError);
      expect(reason.code).toBe('OAUTH_ERROR');
      expect(reason.error).toBe('invalid_scope');
    }
  });

  it('never caches a failure: the next call starts a fresh request', async () => {
    const { handler, seen } = tokenEndpoint((n) =>
      n === 1 ? new HttpResponse('upstream down', { status: 503 }) : HttpResponse.json({ access_token: `tok-${n}`, expires_in: 3600 }),
    );
    server.use(handler);
    const client = makeClient();
    const failures = await Promise.allSettled([client.getToken(), client.getToken(), client.getToken()]);
    expect(failures.map((f) => f.status)).toEqual(['rejected', 'rejected', 'rejected']);
    expect(TokenError.is((failures[0] as PromiseRejectedResult).reason)).toBe(true);
    expect(seen).toHaveLength(1);

    const token = await client.getToken();
    expect(token.accessToken).toBe('tok-2');
    expect(seen).toHaveLength(2);
  });

  it('sends one request per key when different keys are requested concurrently', async () => {
    const { handler, seen } = tokenEndpoint();
    server.use(handler);
    const client = makeClient();
    const calls = [
      ...Array.from({ length: 50 }, () => client.getToken({ scope: 'a' })),
      ...Array.from({ length: 50 }, () => client.getToken({ scope: 'b' })),
    ];
    const tokens = await Promise.all(calls);
    expect(seen).toHaveLength(2);
    expect(seen.map((s) => s.form.get('scope')).sort()).toEqual(['a', 'b']);
    expect(new Set(tokens.slice(0, 50)).size).toBe(1);
    expect(new Set(tokens.slice(50)).size).toBe(1);
    expect(tokens[0]!.accessToken).not.toBe(tokens[50]!.accessToken);
  });

  it('lets forceRefresh join a request already in flight for the same key', async () => {
    const held = heldEndpoint();
    server.use(held.handler);
    const client = makeClient();
    const plain = client.getToken();
    const forced = client.getToken({ forceRefresh: true });
    (await held.arrived(1)).respond();
    expect(await forced).toBe(await plain);
    expect(held.requests).toHaveLength(1);
  });
});
