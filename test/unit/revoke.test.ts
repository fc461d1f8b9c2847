import { http, HttpResponse } from 'msw';
import { describe, expect, it, vi } from 'vitest';
import { OAuthError, TokenError } from '../../src/index.js';
import { deferred, rejectionOf, useClients, within } from '../helpers/core.js';
import { ISSUER, REVOKE_URL, revocationEndpoint, TOKEN_URL, tokenEndpoint, useMswServer } from '../helpers/msw.js';
import { API, RESOURCE_CLIENT, RESOURCE_TEST_SECRET, resourceEndpoint } from '../helpers/resource.js';

const server = useMswServer();
const newClient = useClients(RESOURCE_CLIENT);

const tokenBody = (accessToken: string) => ({ access_token: accessToken, token_type: 'Bearer', expires_in: 3600 });
const BASIC = `Basic ${Buffer.from(`svc-r:${RESOURCE_TEST_SECRET}`).toString('base64')}`;

function metadata(extra: Record<string, unknown>) {
  return http.get(`${ISSUER}/.well-known/oauth-authorization-server`, () =>
    HttpResponse.json({ issuer: ISSUER, token_endpoint: TOKEN_URL, ...extra }),
  );
}

describe('the revocation request (RFC 7009)', () => {
  it('POSTs token and token_type_hint=access_token, form-encoded, with Basic client authentication like the token request', async () => {
    const tokens = tokenEndpoint();
    const revocation = revocationEndpoint();
    server.use(tokens.handler, revocation.handler);
    const client = newClient({ revocationEndpoint: REVOKE_URL });
    await client.getToken();

    await client.revoke();

    expect(revocation.seen).toHaveLength(1);
    const [request] = revocation.seen;
    expect(request!.method).toBe('POST');
    expect(request!.headers.get('content-type')).toBe('application/x-www-form-urlencoded');
    expect(Object.fromEntries(request!.form)).toEqual({ token: 'tok-1', token_type_hint: 'access_token' });
    expect(request!.headers.get('authorization')).toBe(BASIC);
    expect(request!.headers.get('authorization')).toBe(tokens.seen[0]!.headers.get('authorization'));
  });

  it('sends client_id and client_secret in the body with client_secret_post, and no Authorization header', async () => {
    const revocation = revocationEndpoint();
    server.use(tokenEndpoint().handler, revocation.handler);
    const client = newClient({ revocationEndpoint: REVOKE_URL, clientAuth: 'client_secret_post' });
    await client.getToken();

    await client.revoke();

    expect(Object.fromEntries(revocation.seen[0]!.form)).toEqual({
      token: 'tok-1',
      token_type_hint: 'access_token',
      client_id: 'svc-r',
      client_secret: RESOURCE_TEST_SECRET,
    });
    expect(revocation.seen[0]!.headers.get('authorization')).toBeNull();
  });

  it('sends only client_id for a public client (clientAuth none)', async () => {
    const revocation = revocationEndpoint();
    server.use(tokenEndpoint().handler, revocation.handler);
    const client = newClient({ revocationEndpoint: REVOKE_URL, clientSecret: undefined, clientAuth: 'none' });

    await client.revoke('abc');

    expect(Object.fromEntries(revocation.seen[0]!.form)).toEqual({ token: 'abc', token_type_hint: 'access_token', client_id: 'svc-r' });
    expect(revocation.seen[0]!.headers.get('authorization')).toBeNull();
  });

  it('uses the revocation_endpoint discovered from the issuer metadata', async () => {
    const discovered = 'https://auth.example.com/other/revoke';
    const revocation = revocationEndpoint(undefined, discovered);
    server.use(metadata({ revocation_endpoint: discovered }), tokenEndpoint().handler, revocation.handler);
    const client = newClient({ tokenEndpoint: undefined, issuer: ISSUER });
    await client.getToken();

    await client.revoke();

    expect(revocation.tokens).toEqual(['tok-1']);
  });

  it('prefers the revocationEndpoint option over the discovered one', async () => {
    const discovered = revocationEndpoint(undefined, 'https://auth.example.com/other/revoke');
    const configured = revocationEndpoint();
    server.use(
      metadata({ revocation_endpoint: 'https://auth.example.com/other/revoke' }),
      tokenEndpoint().handler,
      discovered.handler,
      configured.handler,
    );
    const client = newClient({ tokenEndpoint: undefined, issuer: ISSUER, revocationEndpoint: REVOKE_URL });
    await client.getToken();

    await client.revoke();

    expect(configured.tokens).toEqual(['tok-1']);
    expect(discovered.seen).toHaveLength(0);
  });

  it('treats 200 as success, also for a token the server does not know', async () => {
    const revocation = revocationEndpoint(() => HttpResponse.json({}));
    server.use(revocation.handler);
    const client = newClient({ revocationEndpoint: REVOKE_URL });

    await expect(client.revoke('never-issued')).resolves.toBeUndefined();
    expect(revocation.tokens).toEqual(['never-issued']);
  });

  it('retries a 503 with Retry-After, waiting as asked', async () => {
    const revocation = revocationEndpoint((n) =>
      n === 1 ? new HttpResponse('busy', { status: 503, headers: { 'retry-after': '1' } }) : new HttpResponse(null, { status: 200 }),
    );
    server.use(revocation.handler);
    const client = newClient({ revocationEndpoint: REVOKE_URL, retry: { minDelay: 1, maxDelay: 2000 } });

    const started = Date.now();
    await client.revoke('abc');

    expect(revocation.tokens).toEqual(['abc', 'abc']);
    // Retry-After: 1 is honoured (not just the 1 ms minDelay).
    expect(Date.now() - started).toBeGreaterThanOrEqual(900);
  });

  it('rejects with the 5xx error once the retries are used up', async () => {
    const revocation = revocationEndpoint(() => new HttpResponse('down', { status: 503 }));
    server.use(revocation.handler);
    const client = newClient({ revocationEndpoint: REVOKE_URL, retry: { retries: 2, minDelay: 1, maxDelay: 5 } });

    const error = await rejectionOf(client.revoke('abc'));

    expect(error).toBeInstanceOf(TokenError);
    expect(error.status).toBe(503);
    expect(revocation.seen).toHaveLength(3);
  });

  it.each([
    [400, 'unsupported_token_type'],
    [401, 'invalid_client'],
  ])('rejects an OAuth error body (HTTP %i %s) with OAuthError, without retrying', async (status, code) => {
    const revocation = revocationEndpoint(() => HttpResponse.json({ error: code, error_description: 'nope' }, { status }));
    server.use(revocation.handler);
    const client = newClient({ revocationEndpoint: REVOKE_URL, retry: { minDelay: 1, maxDelay: 5 } });

    const error = await rejectionOf(client.revoke('abc'));

    expect(error).toBeInstanceOf(OAuthError);
    expect(error).toMatchObject({ code: 'OAUTH_ERROR', error: code, errorDescription: 'nope', status });
    expect(revocation.seen).toHaveLength(1);
  });

  it('rejects a TypeError for an argument that is neither a token nor a string', async () => {
    const client = newClient({ revocationEndpoint: REVOKE_URL });
    await expect(client.revoke(42 as unknown as string)).rejects.toBeInstanceOf(TypeError);
    await expect(client.revoke({} as unknown as string)).rejects.toBeInstanceOf(TypeError);
  });
});

describe('what revoke() forgets', () => {
  it('revoke() revokes every held token (default, per-call scopes and fetch wrappers), and the next getToken() fetches a new one', async () => {
    const tokens = tokenEndpoint();
    const revocation = revocationEndpoint();
    server.use(tokens.handler, revocation.handler, resourceEndpoint(`${API}/*`).handler);
    const client = newClient({ revocationEndpoint: REVOKE_URL, scope: 'default' });
    await client.getToken();
    await client.getToken({ scope: 'reports' });
    const writer = client.createFetch({ scope: 'orders:write' });
    await writer(`${API}/orders`);

    await client.revoke();

    expect(revocation.tokens.sort()).toEqual(['tok-1', 'tok-2', 'tok-3']);
    await expect(client.getToken()).resolves.toMatchObject({ accessToken: 'tok-4' });
    await expect(client.getToken({ scope: 'reports' })).resolves.toMatchObject({ accessToken: 'tok-5' });
    await writer(`${API}/orders`);
    expect(tokens.seen).toHaveLength(6);
  });

  it('revoke() with no token held sends nothing and resolves', async () => {
    const revocation = revocationEndpoint();
    server.use(revocation.handler);

    await newClient({ revocationEndpoint: REVOKE_URL }).revoke();

    expect(revocation.seen).toHaveLength(0);
  });

  it('revoke(token) forgets only that token', async () => {
    const tokens = tokenEndpoint();
    const revocation = revocationEndpoint();
    server.use(tokens.handler, revocation.handler);
    const client = newClient({ revocationEndpoint: REVOKE_URL });
    const first = await client.getToken();
    await client.getToken({ scope: 'other' });

    await client.revoke(first);

    expect(revocation.tokens).toEqual(['tok-1']);
    await expect(client.getToken({ scope: 'other' })).resolves.toMatchObject({ accessToken: 'tok-2' });
    await expect(client.getToken()).resolves.toMatchObject({ accessToken: 'tok-3' });
    expect(tokens.seen).toHaveLength(3);
  });

  it("revoke('string') forgets only the token with that value", async () => {
    const tokens = tokenEndpoint();
    const revocation = revocationEndpoint();
    server.use(tokens.handler, revocation.handler);
    const client = newClient({ revocationEndpoint: REVOKE_URL });
    await client.getToken();
    await client.getToken({ scope: 'other' });

    await client.revoke('tok-2');

    expect(revocation.tokens).toEqual(['tok-2']);
    await expect(client.getToken()).resolves.toMatchObject({ accessToken: 'tok-1' });
    await expect(client.getToken({ scope: 'other' })).resolves.toMatchObject({ accessToken: 'tok-3' });
  });

  it('forgets the tokens even when the revocation fails', async () => {
    const tokens = tokenEndpoint();
    server.use(tokens.handler, revocationEndpoint(() => HttpResponse.json({ error: 'invalid_client' }, { status: 401 })).handler);
    const client = newClient({ revocationEndpoint: REVOKE_URL });
    await client.getToken();

    await expect(client.revoke()).rejects.toBeInstanceOf(OAuthError);

    await expect(client.getToken()).resolves.toMatchObject({ accessToken: 'tok-2' });
  });

  it('rejects with one aggregate TokenError when several revocations fail', async () => {
    const revocation = revocationEndpoint(() => HttpResponse.json({ error: 'unsupported_token_type' }, { status: 400 }));
    server.use(tokenEndpoint().handler, revocation.handler);
    const client = newClient({ revocationEndpoint: REVOKE_URL });
    await client.getToken();
    await client.getToken({ scope: 'b' });

    const error = await rejectionOf(client.revoke());

    expect(error).toBeInstanceOf(TokenError);
    expect(error.code).toBe('OAUTH_ERROR');
    expect(error.message).toMatch(/2 of 2/);
    expect(error.cause).toBeInstanceOf(AggregateError);
    expect((error.cause as AggregateError).errors).toHaveLength(2);
    expect(revocation.seen).toHaveLength(2);
  });

  it('a token request in flight during revoke() does not fill the cache, and later callers start a new request', async () => {
    const release = deferred();
    const tokens = tokenEndpoint(async (n) => {
      if (n === 1) await release.promise;
      return HttpResponse.json(tokenBody(`tok-${n}`));
    });
    const revocation = revocationEndpoint();
    server.use(tokens.handler, revocation.handler);
    const client = newClient({ revocationEndpoint: REVOKE_URL });

    const inflight = client.getToken();
    inflight.catch(() => {}); // asserted below; no unhandled rejection if the test fails early
    await vi.waitFor(() => expect(tokens.seen).toHaveLength(1));
    await client.revoke();
    // A caller arriving after revoke() does not join the old request.
    const after = client.getToken();
    after.catch(() => {});
    await vi.waitFor(() => expect(tokens.seen).toHaveLength(2));
    release.resolve();

    // The caller that was already waiting gets the token its request produced…
    await expect(inflight).resolves.toMatchObject({ accessToken: 'tok-1' });
    await expect(after).resolves.toMatchObject({ accessToken: 'tok-2' });
    // …but it was not cached: the cache holds the token of the request started after revoke().
    await expect(client.getToken()).resolves.toMatchObject({ accessToken: 'tok-2' });
    expect(tokens.seen).toHaveLength(2);
    expect(revocation.seen).toHaveLength(0);
  });

  it('a token request in flight during revoke() is not cached, so the next getToken() requests again', async () => {
    const release = deferred();
    const tokens = tokenEndpoint(async (n) => {
      if (n === 2) await release.promise;
      return HttpResponse.json(tokenBody(`tok-${n}`));
    });
    const revocation = revocationEndpoint();
    server.use(tokens.handler, revocation.handler);
    const client = newClient({ revocationEndpoint: REVOKE_URL });
    await client.getToken();

    const refresh = client.getToken({ forceRefresh: true });
    refresh.catch(() => {});
    await vi.waitFor(() => expect(tokens.seen).toHaveLength(2));
    await client.revoke();
    release.resolve();
    await expect(refresh).resolves.toMatchObject({ accessToken: 'tok-2' });

    expect(revocation.tokens).toEqual(['tok-1']);
    await expect(client.getToken()).resolves.toMatchObject({ accessToken: 'tok-3' });
    expect(tokens.seen).toHaveLength(3);
  });

  it('never hands out a revoked value, even when the server issues it again (INVALID_RESPONSE)', async () => {
    const release = deferred();
    // The server keeps answering with the same access token value.
    const tokens = tokenEndpoint(async (n) => {
      if (n === 2) await release.promise;
      return HttpResponse.json(tokenBody('same-value'));
    });
    server.use(tokens.handler, revocationEndpoint().handler);
    const client = newClient({ revocationEndpoint: REVOKE_URL });
    await expect(client.getToken()).resolves.toMatchObject({ accessToken: 'same-value' });

    const refresh = client.getToken({ forceRefresh: true });
    refresh.catch(() => {});
    await vi.waitFor(() => expect(tokens.seen).toHaveLength(2));
    await client.revoke();
    release.resolve();

    expect(await rejectionOf(refresh)).toMatchObject({ code: 'INVALID_RESPONSE' });
    expect(await rejectionOf(client.getToken())).toMatchObject({ code: 'INVALID_RESPONSE' });
    expect(tokens.seen).toHaveLength(3);
  });

  it('a value revoked with revoke(string) is refused when the server issues it later', async () => {
    const tokens = tokenEndpoint(() => HttpResponse.json(tokenBody('reused')));
    server.use(tokens.handler, revocationEndpoint().handler);
    const client = newClient({ revocationEndpoint: REVOKE_URL });

    await client.revoke('reused');

    const error = await rejectionOf(client.getToken());
    expect(error).toBeInstanceOf(TokenError);
    expect(error.code).toBe('INVALID_RESPONSE');
  });
});

describe('without a revocation endpoint', () => {
  it('rejects with CONFIG when neither revocationEndpoint nor issuer is set, and keeps the tokens', async () => {
    const tokens = tokenEndpoint();
    server.use(tokens.handler);
    const client = newClient();
    await client.getToken();
    await client.getToken({ scope: 'b' });

    for (const call of [() => client.revoke(), () => client.revoke('tok-1')]) {
      const error = await rejectionOf(call());
      expect(error).toBeInstanceOf(TokenError);
      expect(error.code).toBe('CONFIG');
    }

    await expect(client.getToken()).resolves.toMatchObject({ accessToken: 'tok-1' });
    await expect(client.getToken({ scope: 'b' })).resolves.toMatchObject({ accessToken: 'tok-2' });
    expect(tokens.seen).toHaveLength(2);
  });

  it('rejects with CONFIG when the issuer metadata has no revocation_endpoint, and keeps the tokens', async () => {
    const tokens = tokenEndpoint();
    server.use(metadata({}), tokens.handler);
    const client = newClient({ tokenEndpoint: undefined, issuer: ISSUER });
    await client.getToken();

    const error = await rejectionOf(client.revoke());

    expect(error).toBeInstanceOf(TokenError);
    expect(error.code).toBe('CONFIG');
    await expect(within(client.getToken())).resolves.toMatchObject({ accessToken: 'tok-1' });
    expect(tokens.seen).toHaveLength(1);
  });
});

describe('after close()', () => {
  it('revoke() rejects with CLOSED and sends nothing', async () => {
    const revocation = revocationEndpoint();
    server.use(revocation.handler);
    const client = newClient({ revocationEndpoint: REVOKE_URL });
    await client.close();

    expect(await rejectionOf(client.revoke('abc'))).toMatchObject({ code: 'CLOSED' });
    expect(revocation.seen).toHaveLength(0);
  });
});
