import { http, HttpResponse } from 'msw';
import { describe, expect, it, vi } from 'vitest';
import { TokenError } from '../../src/index.js';
import { deferred, rejectionOf, settleIo, useClients, within } from '../helpers/core.js';
import { abandoned, tokenEndpoint, TOKEN_URL, useMswServer } from '../helpers/msw.js';
import { API, invalidToken, RESOURCE_CLIENT, resourceEndpoint } from '../helpers/resource.js';

const server = useMswServer();
const newClient = useClients(RESOURCE_CLIENT);

const ORDERS = `${API}/orders`;

describe('Authorization header', () => {
  it('adds "Bearer <access_token>" and returns the resource response untouched', async () => {
    const tokens = tokenEndpoint();
    const api = resourceEndpoint(ORDERS, () => HttpResponse.json({ orders: [1] }, { status: 201, headers: { 'x-api': 'yes' } }));
    server.use(tokens.handler, api.handler);
    const client = newClient();

    const res = await client.fetch(ORDERS);

    expect(api.seen.map((s) => s.authorization)).toEqual(['Bearer tok-1']);
    expect(res.status).toBe(201);
    expect(res.headers.get('x-api')).toBe('yes');
    expect(await res.json()).toEqual({ orders: [1] });
  });

  it('uses the token type of the response as the scheme ("<token_type> <token>")', async () => {
    const tokens = tokenEndpoint(() => HttpResponse.json({ access_token: 'dp-1', token_type: 'dpop', expires_in: 3600 }));
    const api = resourceEndpoint(ORDERS);
    server.use(tokens.handler, api.handler);

    await newClient().fetch(ORDERS);

    expect(api.seen[0]!.authorization).toBe('DPoP dp-1');
  });

  it('authorizes every request, reusing the cached token', async () => {
    const tokens = tokenEndpoint();
    const api = resourceEndpoint(`${API}/*`);
    server.use(tokens.handler, api.handler);
    const client = newClient();

    await client.fetch(ORDERS);
    await client.fetch(`${API}/invoices`);
    await client.fetch(ORDERS, { method: 'DELETE' });

    expect(api.seen.map((s) => s.authorization)).toEqual(['Bearer tok-1', 'Bearer tok-1', 'Bearer tok-1']);
    expect(tokens.seen).toHaveLength(1);
  });

  it('accepts a URL object as input', async () => {
    const api = resourceEndpoint(ORDERS);
    server.use(tokenEndpoint().handler, api.handler);

    await newClient().fetch(new URL(ORDERS));

    expect(api.seen).toMatchObject([{ method: 'GET', authorization: 'Bearer tok-1' }]);
  });

  it('accepts a Request as input, keeping its method, headers and body', async () => {
    const api = resourceEndpoint(ORDERS);
    server.use(tokenEndpoint().handler, api.handler);

    const request = new Request(ORDERS, { method: 'PUT', headers: { 'x-trace': 't-1', 'content-type': 'text/plain' }, body: 'hello' });
    await newClient().fetch(request);

    expect(api.seen).toHaveLength(1);
    expect(api.seen[0]).toMatchObject({ method: 'PUT', authorization: 'Bearer tok-1', body: 'hello' });
    expect(api.seen[0]!.headers.get('x-trace')).toBe('t-1');
    expect(api.seen[0]!.headers.get('content-type')).toBe('text/plain');
  });

  it.each([
    ['a Headers object', () => new Headers({ 'x-trace': 't-1', accept: 'application/json' })],
    [
      'an array of pairs',
      (): [string, string][] => [
        ['x-trace', 't-1'],
        ['accept', 'application/json'],
      ],
    ],
    ['a plain object', () => ({ 'x-trace': 't-1', accept: 'application/json' })],
  ])("keeps the caller's headers given as %s", async (_, headers) => {
    const api = resourceEndpoint(ORDERS);
    server.use(tokenEndpoint().handler, api.handler);

    await newClient().fetch(ORDERS, { headers: headers() });

    const seen = api.seen[0]!;
    expect(seen.authorization).toBe('Bearer tok-1');
    expect(seen.headers.get('x-trace')).toBe('t-1');
    expect(seen.headers.get('accept')).toBe('application/json');
  });

  it("does not modify the caller's Headers object", async () => {
    server.use(tokenEndpoint().handler, resourceEndpoint(ORDERS).handler);
    const headers = new Headers({ 'x-trace': 't-1' });

    await newClient().fetch(ORDERS, { headers });

    expect([...headers]).toEqual([['x-trace', 't-1']]);
  });

  it('replaces an Authorization header set by the caller with the token', async () => {
    const api = resourceEndpoint(ORDERS);
    server.use(tokenEndpoint().handler, api.handler);

    await newClient().fetch(ORDERS, { headers: { authorization: 'Basic c3R1ZmY=' } });

    expect(api.seen[0]!.authorization).toBe('Bearer tok-1');
  });

  it('calls the fetch it is given on its own, without a `this`, for the first attempt and a redirect hop', async () => {
    const moved = resourceEndpoint(`${API}/moved`, () => new Response(null, { status: 302, headers: { location: ORDERS } }));
    const api = resourceEndpoint(ORDERS);
    server.use(tokenEndpoint().handler, moved.handler, api.handler);
    const receivers: unknown[] = [];
    const authorized = newClient().createFetch({
      fetch(input, init) {
        receivers.push(this);
        return globalThis.fetch(input, init);
      },
    });

    await authorized(ORDERS);
    await authorized(`${API}/moved`);

    expect(api.seen.map((s) => s.authorization)).toEqual(['Bearer tok-1', 'Bearer tok-1']);
    expect(receivers).toEqual([undefined, undefined, undefined]);
  });

  it("keeps the caller's method and body", async () => {
    const api = resourceEndpoint(ORDERS);
    server.use(tokenEndpoint().handler, api.handler);

    await newClient().fetch(ORDERS, { method: 'PATCH', body: JSON.stringify({ id: 7 }), headers: { 'content-type': 'application/json' } });

    expect(api.seen[0]).toMatchObject({ method: 'PATCH', body: '{"id":7}', authorization: 'Bearer tok-1' });
    expect(api.seen[0]!.headers.get('content-type')).toBe('application/json');
  });
});

describe('signal', () => {
  it("aborting the caller's signal aborts the request to the resource server", async () => {
    const arrived = deferred();
    const handlerSawAbort = deferred<boolean>();
    server.use(
      tokenEndpoint().handler,
      http.get(ORDERS, async ({ request }) => {
        arrived.resolve();
        await abandoned(request);
        handlerSawAbort.resolve(request.signal.aborted);
        return HttpResponse.text('too late');
      }),
    );
    const controller = new AbortController();
    const reason = new Error('caller gave up');

    const pending = newClient().fetch(ORDERS, { signal: controller.signal });
    await within(arrived.promise);
    controller.abort(reason);

    expect(await rejectionOf(pending)).toBe(reason);
    expect(await within(handlerSawAbort.promise)).toBe(true);
  });

  it('aborting the signal of a Request input aborts the request', async () => {
    const arrived = deferred();
    const handlerSawAbort = deferred<boolean>();
    server.use(
      tokenEndpoint().handler,
      http.get(ORDERS, async ({ request }) => {
        arrived.resolve();
        await abandoned(request);
        handlerSawAbort.resolve(request.signal.aborted);
        return HttpResponse.text('too late');
      }),
    );
    const controller = new AbortController();

    const pending = newClient().fetch(new Request(ORDERS, { signal: controller.signal }));
    await within(arrived.promise);
    controller.abort(new Error('stop'));

    expect(await rejectionOf(pending)).toMatchObject({ message: 'stop' });
    expect(await within(handlerSawAbort.promise)).toBe(true);
  });

  it("aborting the caller's signal while the token is awaited rejects with ABORTED and sends nothing to the resource", async () => {
    const release = deferred();
    const api = resourceEndpoint(ORDERS);
    const tokens = tokenEndpoint(async (n) => {
      await release.promise;
      return HttpResponse.json({ access_token: `tok-${n}`, token_type: 'Bearer', expires_in: 3600 });
    });
    server.use(tokens.handler, api.handler);
    const client = newClient();
    const controller = new AbortController();

    const pending = client.fetch(ORDERS, { signal: controller.signal });
    pending.catch(() => {}); // asserted below
    await vi.waitFor(() => expect(tokens.seen).toHaveLength(1));
    controller.abort(new Error('caller gave up'));

    const error = await rejectionOf(pending);
    expect(error).toBeInstanceOf(TokenError);
    expect(error).toMatchObject({ code: 'ABORTED' });
    release.resolve();
    // The shared token request carries on for others: the token is cached afterwards.
    await expect(client.getToken()).resolves.toMatchObject({ accessToken: 'tok-1' });
    expect(api.seen).toHaveLength(0);
  });
});

describe('401 recovery', () => {
  function staleThenOk(stale: () => Response) {
    return resourceEndpoint(ORDERS, (_, seen) => (seen.authorization === 'Bearer tok-1' ? stale() : HttpResponse.text('fresh')));
  }

  it('on 401 with error="invalid_token" drops the token, gets a fresh one and retries once', async () => {
    const tokens = tokenEndpoint();
    const api = staleThenOk(invalidToken);
    server.use(tokens.handler, api.handler);
    const client = newClient();

    const res = await client.fetch(ORDERS);

    expect(res.status).toBe(200);
    expect(await res.text()).toBe('fresh');
    expect(api.seen.map((s) => s.authorization)).toEqual(['Bearer tok-1', 'Bearer tok-2']);
    expect(tokens.seen).toHaveLength(2);
    // The fresh token is the one cached now.
    await expect(client.getToken()).resolves.toMatchObject({ accessToken: 'tok-2' });
    expect(tokens.seen).toHaveLength(2);
  });

  it('on a plain 401 without WWW-Authenticate retries once with a fresh token', async () => {
    const tokens = tokenEndpoint();
    const api = staleThenOk(() => new HttpResponse(null, { status: 401 }));
    server.use(tokens.handler, api.handler);

    const res = await newClient().fetch(ORDERS);

    expect(res.status).toBe(200);
    expect(api.seen.map((s) => s.authorization)).toEqual(['Bearer tok-1', 'Bearer tok-2']);
    expect(tokens.seen).toHaveLength(2);
  });

  it('on a 401 whose Bearer challenge has no error retries once', async () => {
    const tokens = tokenEndpoint();
    const api = staleThenOk(() => new HttpResponse(null, { status: 401, headers: { 'www-authenticate': 'Bearer realm="api"' } }));
    server.use(tokens.handler, api.handler);

    const res = await newClient().fetch(ORDERS);

    expect(res.status).toBe(200);
    expect(api.seen).toHaveLength(2);
  });

  it('recognises the challenge whatever the case of the scheme and parameter name', async () => {
    const tokens = tokenEndpoint();
    const api = staleThenOk(
      () => new HttpResponse(null, { status: 401, headers: { 'www-authenticate': 'Basic realm="x", BEARER ERROR="invalid_token"' } }),
    );
    server.use(tokens.handler, api.handler);

    const res = await newClient().fetch(ORDERS);

    expect(res.status).toBe(200);
    expect(api.seen).toHaveLength(2);
  });

  it('returns a persistent 401 after exactly two attempts', async () => {
    const tokens = tokenEndpoint();
    const api = resourceEndpoint(
      ORDERS,
      (n) => new HttpResponse(`denied ${n}`, { status: 401, headers: { 'www-authenticate': 'Bearer error="invalid_token"' } }),
    );
    server.use(tokens.handler, api.handler);

    const res = await newClient().fetch(ORDERS);

    expect(res.status).toBe(401);
    expect(await res.text()).toBe('denied 2');
    expect(api.seen.map((s) => s.authorization)).toEqual(['Bearer tok-1', 'Bearer tok-2']);
    expect(tokens.seen).toHaveLength(2);
  });

  it('returns a 403 with error="insufficient_scope" without retrying or dropping the token', async () => {
    const tokens = tokenEndpoint();
    const api = resourceEndpoint(
      ORDERS,
      () =>
        new HttpResponse('forbidden', {
          status: 403,
          headers: { 'www-authenticate': 'Bearer error="insufficient_scope", scope="orders:write"' },
        }),
    );
    server.use(tokens.handler, api.handler);
    const client = newClient();

    const res = await client.fetch(ORDERS);

    expect(res.status).toBe(403);
    expect(await res.text()).toBe('forbidden');
    expect(api.seen).toHaveLength(1);
    await expect(client.getToken()).resolves.toMatchObject({ accessToken: 'tok-1' });
    expect(tokens.seen).toHaveLength(1);
  });

  it.each(['invalid_request', 'insufficient_scope'])(
    'returns a 401 whose Bearer challenge has error="%s" without retrying or dropping the token',
    async (code) => {
      const tokens = tokenEndpoint();
      const api = resourceEndpoint(
        ORDERS,
        () => new HttpResponse('bad', { status: 401, headers: { 'www-authenticate': `Bearer error="${code}"` } }),
      );
      server.use(tokens.handler, api.handler);
      const client = newClient();

      const res = await client.fetch(ORDERS);

      expect(res.status).toBe(401);
      expect(api.seen).toHaveLength(1);
      await expect(client.getToken()).resolves.toMatchObject({ accessToken: 'tok-1' });
      expect(tokens.seen).toHaveLength(1);
    },
  );

  it('drops exactly the token it used: the tokens of other scopes stay cached', async () => {
    const tokens = tokenEndpoint();
    const api = resourceEndpoint(ORDERS, (_, seen) => (seen.authorization === 'Bearer tok-2' ? invalidToken() : HttpResponse.text('ok')));
    server.use(tokens.handler, api.handler);
    const client = newClient({ scope: 'orders:read' });
    const writer = client.createFetch({ scope: 'orders:write' });

    await expect(client.getToken()).resolves.toMatchObject({ accessToken: 'tok-1' });
    const res = await writer(ORDERS, { method: 'POST', body: 'x' });

    expect(res.status).toBe(200);
    expect(api.seen.map((s) => s.authorization)).toEqual(['Bearer tok-2', 'Bearer tok-3']);
    expect(tokens.seen.map((s) => s.form.get('scope'))).toEqual(['orders:read', 'orders:write', 'orders:write']);
    // The default token was not touched.
    await expect(client.getToken()).resolves.toMatchObject({ accessToken: 'tok-1' });
    expect(tokens.seen).toHaveLength(3);
  });

  it('100 concurrent requests refused for the same stale token cause exactly one refresh, even when some 401s arrive after it', async () => {
    const tokens = tokenEndpoint();
    // The stale token's 401s are answered in two waves: the second only after the refresh finished,
    // so an unconditional invalidation would throw the fresh token away and refresh again.
    const secondWave = deferred();
    let staleSeen = 0;
    const api = resourceEndpoint(ORDERS, async (_, seen) => {
      if (seen.authorization !== 'Bearer tok-1') return HttpResponse.text('ok');
      staleSeen++;
      if (staleSeen > 50) await secondWave.promise;
      return invalidToken();
    });
    server.use(tokens.handler, api.handler);
    const client = newClient();
    await client.getToken();

    const responses = Array.from({ length: 100 }, () => client.fetch(ORDERS));
    // Wait until the first wave has been retried with the fresh token and all stale requests arrived.
    await vi.waitFor(
      () => {
        expect(staleSeen).toBe(100);
        expect(api.seen.filter((s) => s.authorization === 'Bearer tok-2').length).toBeGreaterThanOrEqual(50);
      },
      { timeout: 5000 },
    );
    secondWave.resolve();
    const statuses = (await Promise.all(responses)).map((r) => r.status);

    expect(statuses).toEqual(Array.from({ length: 100 }, () => 200));
    expect(tokens.seen).toHaveLength(2);
    expect(api.seen.filter((s) => s.authorization === 'Bearer tok-2')).toHaveLength(100);
  });

  describe('replays the body on the retry', () => {
    const cases: [string, () => RequestInit, (seen: { body: string; contentType: string | null; form?: FormData }) => void][] = [
      ['no body (GET)', () => ({}), (s) => expect(s.body).toBe('')],
      ['a string', () => ({ method: 'POST', body: 'hello' }), (s) => expect(s.body).toBe('hello')],
      [
        'URLSearchParams',
        () => ({ method: 'POST', body: new URLSearchParams({ a: '1', b: 'x y' }) }),
        (s) => {
          expect(s.body).toBe('a=1&b=x+y');
          expect(s.contentType).toMatch(/^application\/x-www-form-urlencoded/);
        },
      ],
      ['an ArrayBuffer', () => ({ method: 'POST', body: new TextEncoder().encode('buffer').buffer }), (s) => expect(s.body).toBe('buffer')],
      ['a Uint8Array', () => ({ method: 'POST', body: new TextEncoder().encode('bytes') }), (s) => expect(s.body).toBe('bytes')],
      [
        'a Blob',
        () => ({ method: 'POST', body: new Blob(['blob'], { type: 'text/x-blob' }) }),
        (s) => {
          expect(s.body).toBe('blob');
          expect(s.contentType).toBe('text/x-blob');
        },
      ],
      [
        'FormData',
        () => {
          const form = new FormData();
          form.set('field', 'value');
          form.set('file', new Blob(['content']), 'f.txt');
          return { method: 'POST', body: form };
        },
        (s) => {
          expect(s.contentType).toMatch(/^multipart\/form-data; boundary=/);
          expect(s.body).toContain('value');
          expect(s.body).toContain('content');
        },
      ],
    ];

    it.each(cases)('%s', async (_, init, check) => {
      const tokens = tokenEndpoint();
      const seen: { authorization: string | null; method: string; body: string; contentType: string | null }[] = [];
      server.use(
        tokens.handler,
        http.all(ORDERS, async ({ request }) => {
          const entry = {
            authorization: request.headers.get('authorization'),
            method: request.method,
            contentType: request.headers.get('content-type'),
            body: await request.text(),
          };
          seen.push(entry);
          return entry.authorization === 'Bearer tok-1' ? invalidToken() : HttpResponse.text('ok');
        }),
      );
      const requestInit = init();

      const res = await newClient().fetch(ORDERS, requestInit);

      expect(res.status).toBe(200);
      expect(tokens.seen).toHaveLength(2);
      expect(seen.map((s) => s.authorization)).toEqual(['Bearer tok-1', 'Bearer tok-2']);
      expect(seen.map((s) => s.method)).toEqual([requestInit.method ?? 'GET', requestInit.method ?? 'GET']);
      for (const s of seen) check(s);
    });
  });

  it('sends a ReadableStream body once and returns the 401 instead of retrying', async () => {
    const tokens = tokenEndpoint();
    const api = resourceEndpoint(ORDERS, () => invalidToken());
    server.use(tokens.handler, api.handler);
    const body = new ReadableStream<Uint8Array>({
      start(controller) {
        controller.enqueue(new TextEncoder().encode('streamed'));
        controller.close();
      },
    });

    const res = await newClient().fetch(ORDERS, { method: 'POST', body, duplex: 'half' } as RequestInit);

    expect(res.status).toBe(401);
    expect(api.seen).toHaveLength(1);
    expect(api.seen[0]!.body).toBe('streamed');
    expect(tokens.seen).toHaveLength(1);
  });

  it('returns the 401 for a Request input with a body (it cannot be replayed)', async () => {
    const tokens = tokenEndpoint();
    const api = resourceEndpoint(ORDERS, () => invalidToken());
    server.use(tokens.handler, api.handler);

    const res = await newClient().fetch(new Request(ORDERS, { method: 'POST', body: 'once' }));

    expect(res.status).toBe(401);
    expect(api.seen).toHaveLength(1);
    expect(api.seen[0]!.body).toBe('once');
    expect(tokens.seen).toHaveLength(1);
  });

  it('retries a Request input without a body', async () => {
    const tokens = tokenEndpoint();
    const api = staleThenOk(invalidToken);
    server.use(tokens.handler, api.handler);

    const res = await newClient().fetch(new Request(ORDERS, { headers: { 'x-trace': 't-9' } }));

    expect(res.status).toBe(200);
    expect(api.seen.map((s) => [s.authorization, s.headers.get('x-trace')])).toEqual([
      ['Bearer tok-1', 't-9'],
      ['Bearer tok-2', 't-9'],
    ]);
  });
});

describe('allowedOrigins', () => {
  it('rejects a request to another origin with CONFIG before requesting a token or sending anything', async () => {
    const tokens = tokenEndpoint();
    const foreign = resourceEndpoint('https://evil.example.net/*');
    const api = resourceEndpoint(`${API}/*`);
    server.use(tokens.handler, foreign.handler, api.handler);
    const apiFetch = newClient().createFetch({ allowedOrigins: [API] });

    for (const target of [
      'https://evil.example.net/steal',
      new URL('https://evil.example.net/x'),
      new Request('https://evil.example.net/r'),
    ]) {
      const error = await rejectionOf(apiFetch(target));
      expect(error).toBeInstanceOf(TokenError);
      expect(error).toMatchObject({ code: 'CONFIG' });
    }
    // Same host on another port or scheme is another origin too.
    for (const target of ['https://api.example.com:8443/orders', 'http://api.example.com/orders']) {
      expect(await rejectionOf(apiFetch(target))).toMatchObject({ code: 'CONFIG' });
    }

    expect(tokens.seen).toHaveLength(0);
    expect(foreign.seen).toHaveLength(0);
    expect(api.seen).toHaveLength(0);
  });

  it('sends requests to an allowed origin, whether given as origin, URL with a path, or URL object', async () => {
    const api = resourceEndpoint(`${API}/*`);
    const other = resourceEndpoint('https://other.example.org/*');
    server.use(tokenEndpoint().handler, api.handler, other.handler);
    const client = newClient();

    await client.createFetch({ allowedOrigins: [API] })(`${API}/a`);
    await client.createFetch({ allowedOrigins: [`${API}/some/path?q=1`] })(`${API}/b`);
    await client.createFetch({ allowedOrigins: [new URL('https://other.example.org'), new URL(API)] })(`${API}/c`);
    await client.createFetch({ allowedOrigins: [new URL('https://other.example.org'), new URL(API)] })('https://other.example.org/d');

    expect(api.seen.map((s) => [new URL(s.url).pathname, s.authorization])).toEqual([
      ['/a', 'Bearer tok-1'],
      ['/b', 'Bearer tok-1'],
      ['/c', 'Bearer tok-1'],
    ]);
    expect(other.seen.map((s) => s.authorization)).toEqual(['Bearer tok-1']);
  });

  it('createFetch throws a TypeError for an allowedOrigins entry that is not a URL', () => {
    const client = newClient();
    expect(() => client.createFetch({ allowedOrigins: ['api.example.com'] })).toThrow(TypeError);
    expect(() => client.createFetch({ allowedOrigins: 'https://api.example.com' as unknown as string[] })).toThrow(TypeError);
  });

  it('rejects a relative URL with a TypeError when allowedOrigins is set', async () => {
    const tokens = tokenEndpoint();
    server.use(tokens.handler);
    const apiFetch = newClient().createFetch({ allowedOrigins: [API] });

    await expect(apiFetch('/orders')).rejects.toBeInstanceOf(TypeError);
    expect(tokens.seen).toHaveLength(0);
  });
});

describe('fetch implementation', () => {
  function recordingFetch() {
    const urls: string[] = [];
    const base = globalThis.fetch;
    const fn = vi.fn((input: string | URL | Request, init?: RequestInit) => {
      urls.push(input instanceof Request ? input.url : String(input));
      return base(input, init);
    });
    return { fn: fn as unknown as typeof globalThis.fetch, urls };
  }

  it("client.fetch and createFetch use the client's `fetch` option by default", async () => {
    const api = resourceEndpoint(ORDERS);
    server.use(tokenEndpoint().handler, api.handler);
    const custom = recordingFetch();
    const client = newClient({ fetch: custom.fn });

    await client.fetch(ORDERS);
    await client.createFetch({ scope: 'other' })(ORDERS);

    expect(custom.urls).toEqual([TOKEN_URL, ORDERS, TOKEN_URL, ORDERS]);
    expect(api.seen).toHaveLength(2);
  });

  it("createFetch's `fetch` option overrides the client's for the resource requests", async () => {
    const api = resourceEndpoint(ORDERS);
    server.use(tokenEndpoint().handler, api.handler);
    const clientFetch = recordingFetch();
    const wrapperFetch = recordingFetch();
    const client = newClient({ fetch: clientFetch.fn });

    await client.createFetch({ fetch: wrapperFetch.fn })(ORDERS);

    expect(wrapperFetch.urls).toEqual([ORDERS]);
    // Tokens still come through the client's fetch.
    expect(clientFetch.urls).toEqual([TOKEN_URL]);
    expect(api.seen.map((s) => s.authorization)).toEqual(['Bearer tok-1']);
  });

  it('without any `fetch` option uses globalThis.fetch as it is at call time', async () => {
    const api = resourceEndpoint(ORDERS);
    server.use(tokenEndpoint().handler, api.handler);
    const client = newClient();
    const apiFetch = client.createFetch();
    const stub = recordingFetch();
    vi.stubGlobal('fetch', stub.fn);

    await apiFetch(ORDERS);

    expect(stub.urls).toEqual([TOKEN_URL, ORDERS]);
  });

  it("does not hang on a 401 when the `fetch` used clones its responses (a tee'd body)", async () => {
    const tokens = tokenEndpoint();
    const api = resourceEndpoint(ORDERS, (_, seen) =>
      seen.authorization === 'Bearer tok-1' ? invalidToken() : HttpResponse.text('fresh'),
    );
    server.use(tokens.handler, api.handler);
    const copies: Response[] = [];
    const logging = (async (input: string | URL | Request, init?: RequestInit) => {
      const response = await globalThis.fetch(input, init);
      copies.push(response.clone());
      return response;
    }) as typeof globalThis.fetch;

    const res = await within(newClient().createFetch({ fetch: logging })(ORDERS));

    expect(await res.text()).toBe('fresh');
    expect(copies.map((c) => c.status)).toEqual([401, 200]);
    expect(api.seen).toHaveLength(2);
  });

  it('createFetch throws a TypeError when `fetch` is not a function', () => {
    expect(() => newClient().createFetch({ fetch: 'nope' as unknown as typeof fetch })).toThrow(TypeError);
  });
});

describe('per-wrapper token parameters', () => {
  it("a wrapper's scope and audience select another token than the client default", async () => {
    const tokens = tokenEndpoint();
    const api = resourceEndpoint(ORDERS);
    server.use(tokens.handler, api.handler);
    const client = newClient({ scope: 'orders:read', audience: 'https://default.example' });
    const writer = client.createFetch({ scope: ['orders:write', 'orders:admin'], audience: 'https://api.example.com' });
    const resourced = client.createFetch({ resource: 'https://res.example/a' });

    await client.fetch(ORDERS);
    await writer(ORDERS);
    await resourced(ORDERS);
    await writer(ORDERS);
    await client.fetch(ORDERS);

    expect(tokens.seen.map((s) => Object.fromEntries(s.form))).toEqual([
      { grant_type: 'client_credentials', scope: 'orders:read', audience: 'https://default.example' },
      { grant_type: 'client_credentials', scope: 'orders:write orders:admin', audience: 'https://api.example.com' },
      { grant_type: 'client_credentials', scope: 'orders:read', audience: 'https://default.example', resource: 'https://res.example/a' },
    ]);
    expect(api.seen.map((s) => s.authorization)).toEqual(['Bearer tok-1', 'Bearer tok-2', 'Bearer tok-3', 'Bearer tok-2', 'Bearer tok-1']);
  });

  it("a wrapper with the client's own scope shares the default token", async () => {
    const tokens = tokenEndpoint();
    server.use(tokens.handler, resourceEndpoint(ORDERS).handler);
    const client = newClient({ scope: 'a b' });

    await client.createFetch({ scope: ['b', 'a'] })(ORDERS);
    await client.getToken();

    expect(tokens.seen).toHaveLength(1);
  });
});

describe('token errors', () => {
  it('rejects with the token error and sends nothing when no token can be obtained', async () => {
    const api = resourceEndpoint(ORDERS);
    server.use(
      http.post(TOKEN_URL, () => HttpResponse.json({ error: 'invalid_client' }, { status: 401 })),
      api.handler,
    );

    const error = await rejectionOf(newClient().fetch(ORDERS));

    expect(error).toMatchObject({ code: 'OAUTH_ERROR', error: 'invalid_client' });
    expect(api.seen).toHaveLength(0);
  });

  it('waits for the token: nothing is sent to the resource server before it arrives', async () => {
    const release = deferred();
    const api = resourceEndpoint(ORDERS);
    const tokens = tokenEndpoint(async () => {
      await release.promise;
      return HttpResponse.json({ access_token: 'slow', token_type: 'Bearer', expires_in: 3600 });
    });
    server.use(tokens.handler, api.handler);

    const pending = newClient().fetch(ORDERS);
    await vi.waitFor(() => expect(tokens.seen).toHaveLength(1));
    await settleIo();
    expect(api.seen).toHaveLength(0);
    release.resolve();
    await pending;

    expect(api.seen.map((s) => s.authorization)).toEqual(['Bearer slow']);
  });
});

describe('wrapper cache entries are kept from eviction', () => {
  // A wrapper's entry is pinned: `maxCacheEntries` bounds only the entries of per-call getToken() options.
  it("with maxCacheEntries 1, tokens of other scopes do not evict the wrapper's token: getToken() of its scope shares it", async () => {
    const tokens = tokenEndpoint();
    const api = resourceEndpoint(ORDERS);
    server.use(tokens.handler, api.handler);
    const client = newClient({ maxCacheEntries: 1 });
    const wrapper = client.createFetch({ scope: 'x' });

    await wrapper(ORDERS); // tok-1, for x
    await client.getToken({ scope: 'y' }); // tok-2
    await client.getToken({ scope: 'z' }); // tok-3, evicts y
    await wrapper(ORDERS);
    const x = await client.getToken({ scope: 'x' });

    expect(tokens.seen.map((s) => s.form.get('scope'))).toEqual(['x', 'y', 'z']);
    expect(x.accessToken).toBe('tok-1');
    expect(api.seen.map((s) => s.authorization)).toEqual(['Bearer tok-1', 'Bearer tok-1']);
  });

  it("with maxCacheEntries 1, a 401 after other scopes were cached still drops the wrapper's token and retries with a new one", async () => {
    const tokens = tokenEndpoint();
    const api = resourceEndpoint(ORDERS, (n) => (n === 2 ? invalidToken() : HttpResponse.text('ok')));
    server.use(tokens.handler, api.handler);
    const client = newClient({ maxCacheEntries: 1 });
    const wrapper = client.createFetch({ scope: 'x' });

    await wrapper(ORDERS); // tok-1, for x
    await client.getToken({ scope: 'y' }); // tok-2
    const response = await wrapper(ORDERS); // 401 for tok-1, then tok-3

    expect(response.status).toBe(200);
    expect(api.seen.map((s) => s.authorization)).toEqual(['Bearer tok-1', 'Bearer tok-1', 'Bearer tok-3']);
    expect((await client.getToken({ scope: 'x' })).accessToken).toBe('tok-3');
    expect(tokens.seen).toHaveLength(3);
  });

  it("with maxCacheEntries 1, close({ revoke: true }) revokes the wrapper's token after other scopes were cached", async () => {
    const revokeUrl = new URL('/oauth2/revoke', TOKEN_URL).href;
    const revoked: string[] = [];
    server.use(
      tokenEndpoint().handler,
      resourceEndpoint(ORDERS).handler,
      http.post(revokeUrl, async ({ request }) => {
        revoked.push(new URLSearchParams(await request.text()).get('token') ?? '');
        return new HttpResponse(null, { status: 200 });
      }),
    );
    const client = newClient({ maxCacheEntries: 1, revocationEndpoint: revokeUrl });
    await client.createFetch({ scope: 'x' })(ORDERS); // tok-1
    await client.getToken({ scope: 'y' }); // tok-2
    await client.getToken({ scope: 'z' }); // tok-3, evicts y

    const result = await client.close({ revoke: true });

    expect(revoked.sort()).toEqual(['tok-1', 'tok-3']);
    expect(result).toEqual({ revoked: 2, errors: [], skipped: 0 });
  });
});
