import { http, HttpResponse } from 'msw';
import { describe, expect, it, vi } from 'vitest';
import { OAuthError, TokenError } from '../../src/index.js';
import { abandoned, hangingEndpoint, TOKEN_URL, tokenEndpoint, useMswServer } from '../helpers/msw.js';
import { advanceTo, fakeClocks, rejectionOf, tokenJson, useClients } from '../helpers/core.js';

const server = useMswServer();
const makeClient = useClients();

const FAST = { retries: 3, minDelay: 1, maxDelay: 20 };

/** A token endpoint answering `replies[n - 1]()` to the n-th request (the last one repeats), recording when each came. */
function scripted(...replies: (() => Response | Promise<Response>)[]) {
  const times: number[] = [];
  const handler = http.post(TOKEN_URL, async () => {
    times.push(performance.now());
    return replies[Math.min(times.length, replies.length) - 1]!();
  });
  return { handler, times };
}

const ok = () => tokenJson('tok-ok');
const networkError = () => HttpResponse.error();
const status =
  (code: number, headers: Record<string, string> = {}) =>
  () =>
    new HttpResponse(`<h1>${code}</h1>`, { status: code, headers: { 'content-type': 'text/html', ...headers } });

describe('retried failures', () => {
  it('retries network errors until a request succeeds', async () => {
    const { handler, times } = scripted(networkError, networkError, ok);
    server.use(handler);
    const token = await makeClient({ retry: FAST }).getToken();
    expect(token.accessToken).toBe('tok-ok');
    expect(times).toHaveLength(3);
  });

  it('gives up after `retries` retries with the NETWORK error', async () => {
    const { handler, times } = scripted(networkError);
    server.use(handler);
    const error = await rejectionOf(makeClient({ retry: { ...FAST, retries: 2 } }).getToken());
    expect(TokenError.is(error)).toBe(true);
    expect(error.code).toBe('NETWORK');
    expect(times).toHaveLength(3);
  });

  it('retries an attempt that times out, and reports TIMEOUT when every attempt does', async () => {
    const hanging = hangingEndpoint();
    server.use(hanging.handler);
    const error = await rejectionOf(makeClient({ timeout: 30, retry: { ...FAST, retries: 2 } }).getToken());
    expect(error.code).toBe('TIMEOUT');
    expect(hanging.seen).toHaveLength(3);
  });

  it('retries after a timeout and returns the token of the next attempt', async () => {
    let requests = 0;
    server.use(
      http.post(TOKEN_URL, async ({ request }) => {
        requests++;
        if (requests === 1) {
          await abandoned(request);
          return HttpResponse.error();
        }
        return tokenJson('tok-late');
      }),
    );
    const token = await makeClient({ timeout: 30, retry: FAST }).getToken();
    expect(token.accessToken).toBe('tok-late');
    expect(requests).toBe(2);
  });

  it.each([500, 502, 503, 504, 429])('retries HTTP %i', async (code) => {
    const { handler, times } = scripted(status(code), ok);
    server.use(handler);
    expect((await makeClient({ retry: FAST }).getToken()).accessToken).toBe('tok-ok');
    expect(times).toHaveLength(2);
  });

  it('retries a 503 OAuth error (temporarily_unavailable) and reports it when retries run out', async () => {
    const { handler, times } = scripted(() => HttpResponse.json({ error: 'temporarily_unavailable' }, { status: 503 }));
    server.use(handler);
    const error = await rejectionOf(makeClient({ retry: { ...FAST, retries: 1 } }).getToken());
    expect(error).toBeInstanceOf(OAuthError);
    expect(error.status).toBe(503);
    expect(times).toHaveLength(2);
  });

  it('makes retries + 1 attempts by default (3 retries)', async () => {
    const { handler, times } = scripted(status(500));
    server.use(handler);
    const error = await rejectionOf(makeClient({ retry: { minDelay: 1, maxDelay: 5 } }).getToken());
    expect(error.status).toBe(500);
    expect(times).toHaveLength(4);
  });

  it('makes one attempt with retry: false', async () => {
    const { handler, times } = scripted(status(503), ok);
    server.use(handler);
    const error = await rejectionOf(makeClient({ retry: false }).getToken());
    expect(error.code).toBe('INVALID_RESPONSE');
    expect(error.status).toBe(503);
    expect(times).toHaveLength(1);
  });
});

describe('Retry-After', () => {
  it('does not send the retry before Retry-After (seconds) has passed', async () => {
    const { handler, times } = scripted(status(503, { 'retry-after': '1' }), ok);
    server.use(handler);
    const token = await makeClient({ retry: { retries: 1, minDelay: 1, maxDelay: 5_000 } }).getToken();
    expect(token.accessToken).toBe('tok-ok');
    expect(times).toHaveLength(2);
    expect(times[1]! - times[0]!).toBeGreaterThanOrEqual(995);
  });

  it('honours Retry-After on a 429 OAuth error', async () => {
    const { handler, times } = scripted(
      () => HttpResponse.json({ error: 'slow_down' }, { status: 429, headers: { 'retry-after': '1' } }),
      ok,
    );
    server.use(handler);
    await makeClient({ retry: { retries: 1, minDelay: 1, maxDelay: 5_000 } }).getToken();
    expect(times).toHaveLength(2);
    expect(times[1]! - times[0]!).toBeGreaterThanOrEqual(995);
  });

  it('does not send the retry before a Retry-After HTTP date', async () => {
    // Date is frozen on a whole second, so "now + 1 s" is exactly representable as an HTTP date.
    vi.useFakeTimers({ toFake: ['Date'] });
    const now = Date.UTC(2030, 0, 1, 12, 0, 0);
    vi.setSystemTime(now);
    const retryAt = new Date(now + 1000).toUTCString();
    expect(retryAt).toBe('Tue, 01 Jan 2030 12:00:01 GMT');
    const { handler, times } = scripted(status(503, { 'retry-after': retryAt }), ok);
    server.use(handler);
    await makeClient({ retry: { retries: 1, minDelay: 1, maxDelay: 5_000 } }).getToken();
    expect(times).toHaveLength(2);
    expect(times[1]! - times[0]!).toBeGreaterThanOrEqual(995);
  });

  it('caps the wait asked for by Retry-After at maxDelay', async () => {
    const { handler, times } = scripted(status(503, { 'retry-after': '3600' }), ok);
    server.use(handler);
    const token = await makeClient({ retry: { retries: 1, minDelay: 1, maxDelay: 50 } }).getToken();
    expect(token.accessToken).toBe('tok-ok');
    expect(times).toHaveLength(2);
    const gap = times[1]! - times[0]!;
    expect(gap).toBeGreaterThanOrEqual(45);
    expect(gap).toBeLessThan(3_000); // nowhere near the hour the server asked for
  });

  it('does not retry a non-retryable answer because it carries Retry-After', async () => {
    const { handler, times } = scripted(
      () => HttpResponse.json({ error: 'invalid_scope' }, { status: 400, headers: { 'retry-after': '0' } }),
      ok,
    );
    server.use(handler);
    const error = await rejectionOf(makeClient({ retry: FAST }).getToken());
    expect(error.error).toBe('invalid_scope');
    expect(times).toHaveLength(1);
  });
});

describe('failures that are never retried', () => {
  it.each([
    [400, 'invalid_request'],
    [400, 'invalid_scope'],
    [400, 'unauthorized_client'],
    [401, 'invalid_client'],
    [403, 'unauthorized_client'],
    [400, 'invalid_grant'],
  ])('sends exactly one request for HTTP %i %s', async (code, oauthError) => {
    const { handler, times } = scripted(() => HttpResponse.json({ error: oauthError }, { status: code }), ok);
    server.use(handler);
    const error = await rejectionOf(makeClient({ retry: FAST }).getToken());
    expect(error).toBeInstanceOf(OAuthError);
    expect(error.error).toBe(oauthError);
    expect(error.status).toBe(code);
    expect(times).toHaveLength(1);
  });

  it('sends exactly one request for a 404 page', async () => {
    const { handler, times } = scripted(status(404), ok);
    server.use(handler);
    const error = await rejectionOf(makeClient({ retry: FAST }).getToken());
    expect(error.code).toBe('INVALID_RESPONSE');
    expect(error.status).toBe(404);
    expect(times).toHaveLength(1);
  });

  it('sends exactly one request for a malformed 200', async () => {
    const { handler, times } = scripted(() => HttpResponse.json({ token_type: 'Bearer' }), ok);
    server.use(handler);
    const error = await rejectionOf(makeClient({ retry: FAST }).getToken());
    expect(error.code).toBe('INVALID_RESPONSE');
    expect(times).toHaveLength(1);
  });
});

describe('invalid_client backoff', () => {
  const invalidClient = () => HttpResponse.json({ error: 'invalid_client', error_description: 'bad credentials' }, { status: 401 });

  it('fails fast with the same error for invalidClientBackoff (5 s by default), then asks the server again', async () => {
    const t0 = Date.UTC(2030, 0, 1);
    fakeClocks(t0);
    const { handler, seen } = tokenEndpoint((n) => (n === 1 ? invalidClient() : tokenJson(`tok-${n}`)));
    server.use(handler);
    const client = makeClient({ retry: FAST });
    const first = await rejectionOf(client.getToken());
    expect(first).toBeInstanceOf(OAuthError);
    expect(first.error).toBe('invalid_client');

    advanceTo(t0 + 4_999);
    const again = await rejectionOf(client.getToken());
    expect(again).toBe(first);
    // The backoff is client-wide: another scope fails fast too.
    expect(await rejectionOf(client.getToken({ scope: 'other' }))).toBe(first);
    expect(seen).toHaveLength(1);

    advanceTo(t0 + 5_000);
    expect((await client.getToken()).accessToken).toBe('tok-2');
    expect(seen).toHaveLength(2);
  });

  it('uses the invalidClientBackoff option', async () => {
    const t0 = Date.UTC(2030, 0, 1);
    fakeClocks(t0);
    const { handler, seen } = tokenEndpoint((n) => (n === 1 ? invalidClient() : tokenJson(`tok-${n}`)));
    server.use(handler);
    const client = makeClient({ invalidClientBackoff: 60_000 });
    await rejectionOf(client.getToken());
    advanceTo(t0 + 59_999);
    expect((await rejectionOf(client.getToken())).error).toBe('invalid_client');
    expect(seen).toHaveLength(1);
    advanceTo(t0 + 60_000);
    expect((await client.getToken()).accessToken).toBe('tok-2');
  });

  it('asks the server again at once with invalidClientBackoff 0', async () => {
    const { handler, seen } = tokenEndpoint((n) => (n === 1 ? invalidClient() : tokenJson(`tok-${n}`)));
    server.use(handler);
    const client = makeClient({ invalidClientBackoff: 0 });
    await rejectionOf(client.getToken());
    expect((await client.getToken()).accessToken).toBe('tok-2');
    expect(seen).toHaveLength(2);
  });

  it('does not back off after other OAuth errors', async () => {
    const { handler, seen } = tokenEndpoint((n) =>
      n === 1 ? HttpResponse.json({ error: 'invalid_scope' }, { status: 400 }) : tokenJson(`tok-${n}`),
    );
    server.use(handler);
    const client = makeClient();
    await rejectionOf(client.getToken());
    expect((await client.getToken()).accessToken).toBe('tok-2');
    expect(seen).toHaveLength(2);
  });
});

describe('invalid_client with a throttling or server status', () => {
  it('is a transient failure like any 429/5xx: retried, then no backoff and no second encoding', async () => {
    for (const status of [503, 429]) {
      const { handler, seen } = tokenEndpoint(() => HttpResponse.json({ error: 'invalid_client' }, { status }));
      server.use(handler);
      // A secret that form-encoding changes: a credential refusal would also try the raw Basic form.
      const client = makeClient({ clientSecret: 'a:b%c', retry: { retries: 2, minDelay: 1, maxDelay: 5 }, cooldown: { max: 0 } });
      expect(await rejectionOf(client.getToken())).toMatchObject({ error: 'invalid_client', status });
      expect(seen).toHaveLength(3);
      // No invalid_client fast-fail: the next call asks again.
      await rejectionOf(client.getToken());
      expect(seen).toHaveLength(6);
    }
  });
});
