/**
 * Redirect handling of the authorized fetch against two real HTTP servers on 127.0.0.1 (two ports, so
 * two origins). No msw in this file: every fetch here really goes over the loopback network.
 */
import type { ServerResponse } from 'node:http';
import { fetch as undiciFetch } from 'undici';
import { afterAll, beforeAll, beforeEach, describe, expect, it, vi } from 'vitest';
import { rejectionOf, useClients, within } from '../helpers/core.js';
import { RESOURCE_CLIENT, sendJson, startServer, type ServerRequest, type TestServer } from '../helpers/resource.js';

let a: TestServer;
let b: TestServer;
let issued = 0;

/** Routes shared by both servers; only A issues tokens. */
function route(request: ServerRequest, res: ServerResponse): void {
  const url = new URL(request.path, 'http://placeholder');
  const redirect = /^\/redirect\/(\d{3})$/.exec(url.pathname);
  const chain = /^\/chain\/(\d+)$/.exec(url.pathname);
  if (url.pathname === '/token' && request.method === 'POST') {
    issued++;
    sendJson(res, 200, { access_token: `tok-${issued}`, token_type: 'Bearer', expires_in: 3600 });
  } else if (redirect) {
    res.writeHead(Number(redirect[1]), { location: url.searchParams.get('to') ?? '/echo', 'content-type': 'text/plain' });
    res.end('moved');
  } else if (chain) {
    const n = Number(chain[1]);
    if (n > 0) {
      res.writeHead(302, { location: `/chain/${n - 1}` });
      res.end();
    } else {
      sendJson(res, 200, { end: true });
    }
  } else if (url.pathname === '/hang') {
    // Never answers: the client has to abort (or the server closes the connection in afterAll).
  } else if (url.pathname === '/unauthorized') {
    res.writeHead(401, { 'www-authenticate': 'Bearer error="invalid_token"' });
    res.end('no');
  } else {
    sendJson(res, 200, { method: request.method, authorization: request.authorization ?? null, body: request.body });
  }
}

beforeAll(async () => {
  [a, b] = await Promise.all([startServer(route), startServer(route)]);
});
afterAll(async () => {
  await Promise.all([a?.close(), b?.close()]);
});
beforeEach(() => {
  issued = 0;
  a.requests.length = 0;
  b.requests.length = 0;
  userCalls.length = 0;
});

const newClient = useClients(RESOURCE_CLIENT);
const resourceRequests = (server: TestServer) => server.requests.filter((r) => r.path !== '/token');
const tokenRequests = () => a.requests.filter((r) => r.path === '/token');
const redirectTo = (status: number, to: string) => a.url(`/redirect/${status}?to=${encodeURIComponent(to)}`);

const userCalls: { url: string; redirect: RequestInit['redirect'] }[] = [];
/** A fetch supplied by the user: records each call and delegates to the global fetch. */
const userFetch: typeof globalThis.fetch = (input, init) => {
  userCalls.push({ url: input instanceof Request ? input.url : String(input), redirect: init?.redirect });
  return globalThis.fetch(input, init);
};

const implementations: { name: string; fetch: typeof globalThis.fetch | undefined }[] = [
  { name: 'the global fetch', fetch: undefined },
  { name: "undici's fetch", fetch: undiciFetch as unknown as typeof globalThis.fetch },
  { name: 'a user-supplied fetch function', fetch: userFetch },
];

describe.each(implementations)('with $name', ({ fetch }) => {
  const apiFetch = () => newClient({ tokenEndpoint: a.url('/token') }).createFetch({ fetch });

  it.each([301, 302, 303, 307, 308])('a %i redirect to another origin does not carry the Authorization header', async (status) => {
    const res = await apiFetch()(redirectTo(status, b.url('/echo')));

    expect(res.status).toBe(200);
    expect(await res.json()).toEqual({ method: 'GET', authorization: null, body: '' });
    expect(resourceRequests(a).map((r) => r.authorization)).toEqual(['Bearer tok-1']);
    expect(b.requests).toHaveLength(1);
    expect(b.requests[0]!.authorization).toBeUndefined();
  });

  it.each([302, 303, 307])('a %i redirect within the same origin carries the Authorization header', async (status) => {
    const res = await apiFetch()(redirectTo(status, '/echo'));

    expect(await res.json()).toMatchObject({ authorization: 'Bearer tok-1' });
    expect(resourceRequests(a).map((r) => [r.path.split('?')[0], r.authorization])).toEqual([
      [`/redirect/${status}`, 'Bearer tok-1'],
      ['/echo', 'Bearer tok-1'],
    ]);
    expect(b.requests).toHaveLength(0);
  });

  it("the caller's Cookie and Proxy-Authorization do not follow a redirect to another origin, other headers do", async () => {
    const headers = { cookie: 'session=s1', 'proxy-authorization': 'Basic cHJveHk=', 'x-trace': 't-1' };

    await apiFetch()(redirectTo(302, '/echo'), { headers });
    await apiFetch()(redirectTo(302, b.url('/echo')), { headers });

    // Same origin: everything is kept.
    expect(resourceRequests(a).map((r) => [r.path.split('?')[0], r.cookie, r.proxyAuthorization])).toEqual([
      ['/redirect/302', 'session=s1', 'Basic cHJveHk='],
      ['/echo', 'session=s1', 'Basic cHJveHk='],
      ['/redirect/302', 'session=s1', 'Basic cHJveHk='],
    ]);
    expect(b.requests.map((r) => [r.cookie, r.proxyAuthorization, r.authorization, r.headers['x-trace']])).toEqual([
      [undefined, undefined, undefined, 't-1'],
    ]);
  });

  it('rejects a redirect to a URL that is not http(s) instead of following it', async () => {
    const error = await rejectionOf(apiFetch()(redirectTo(302, 'data:text/plain,not-from-the-server')));

    expect(error).toBeInstanceOf(TypeError);
  });

  it('a redirect back to the first origin after another origin does not get the header back', async () => {
    const back = b.url(`/redirect/302?to=${encodeURIComponent(a.url('/echo'))}`);

    const res = await apiFetch()(redirectTo(302, back));

    expect(await res.json()).toMatchObject({ authorization: null });
    expect(resourceRequests(a).map((r) => r.authorization)).toEqual(['Bearer tok-1', undefined]);
    expect(b.requests.map((r) => r.authorization)).toEqual([undefined]);
  });

  it('a 303 after POST becomes a GET without body or body headers', async () => {
    const res = await apiFetch()(redirectTo(303, b.url('/echo')), {
      method: 'POST',
      body: 'payload',
      headers: { 'content-type': 'text/plain', 'x-keep': '1' },
    });

    expect(await res.json()).toEqual({ method: 'GET', authorization: null, body: '' });
    expect(b.requests[0]!.contentType).toBeUndefined();
    expect(resourceRequests(a)[0]).toMatchObject({ method: 'POST', body: 'payload', authorization: 'Bearer tok-1' });
  });

  it.each([301, 302])('a %i after POST becomes a GET without body (same origin keeps the token)', async (status) => {
    const res = await apiFetch()(redirectTo(status, '/echo'), { method: 'POST', body: 'payload' });

    expect(await res.json()).toEqual({ method: 'GET', authorization: 'Bearer tok-1', body: '' });
  });

  it.each([307, 308])('a %i keeps the method and body, and drops the token when crossing origins', async (status) => {
    const res = await apiFetch()(redirectTo(status, b.url('/echo')), {
      method: 'POST',
      body: 'payload',
      headers: { 'content-type': 'text/plain' },
    });

    expect(await res.json()).toEqual({ method: 'POST', authorization: null, body: 'payload' });
    expect(b.requests[0]!.contentType).toBe('text/plain');
  });

  it('a 307 within the same origin keeps method, body and token', async () => {
    const res = await apiFetch()(redirectTo(307, '/echo'), { method: 'PUT', body: 'payload' });

    expect(await res.json()).toEqual({ method: 'PUT', authorization: 'Bearer tok-1', body: 'payload' });
  });

  it('a 307 after a ReadableStream body is returned as is (the body cannot be sent again)', async () => {
    const body = new ReadableStream<Uint8Array>({
      start(controller) {
        controller.enqueue(new TextEncoder().encode('streamed'));
        controller.close();
      },
    });

    const res = await apiFetch()(redirectTo(307, b.url('/echo')), { method: 'POST', body, duplex: 'half' } as RequestInit);

    expect(res.status).toBe(307);
    expect(res.headers.get('location')).toBe(b.url('/echo'));
    expect(resourceRequests(a)[0]!.body).toBe('streamed');
    expect(b.requests).toHaveLength(0);
  });

  it("redirect: 'manual' returns the 3xx untouched", async () => {
    const res = await apiFetch()(redirectTo(302, b.url('/echo')), { redirect: 'manual' });

    expect(res.status).toBe(302);
    expect(res.headers.get('location')).toBe(b.url('/echo'));
    expect(await res.text()).toBe('moved');
    expect(resourceRequests(a).map((r) => r.authorization)).toEqual(['Bearer tok-1']);
    expect(b.requests).toHaveLength(0);
  });

  it("redirect: 'error' rejects on a redirect and sends nothing to the target", async () => {
    await expect(apiFetch()(redirectTo(302, b.url('/echo')), { redirect: 'error' })).rejects.toBeInstanceOf(TypeError);
    expect(b.requests).toHaveLength(0);
  });

  const signalCases: [string, (url: string, signal: AbortSignal) => [string | Request, RequestInit?]][] = [
    ['init', (url, signal) => [url, { signal }]],
  ];
  // undici 7's fetch does not recognise Node 20's global Request class, so that pair is not exercised.
  if (fetch !== undiciFetch) signalCases.push(['a Request', (url, signal) => [new Request(url, { signal })]]);
  it.each(signalCases)('the signal given in %s also aborts a request after a redirect', async (_, args) => {
    const controller = new AbortController();
    const pending = apiFetch()(...args(redirectTo(302, b.url('/hang')), controller.signal));
    pending.catch(() => {}); // asserted below
    await vi.waitFor(() => expect(b.requests).toHaveLength(1));

    controller.abort(new Error('caller gave up'));

    expect(await rejectionOf(within(pending))).toMatchObject({ message: 'caller gave up' });
  });

  it('follows 20 redirects', async () => {
    const res = await apiFetch()(a.url('/chain/20'));

    expect(await res.json()).toEqual({ end: true });
    expect(resourceRequests(a)).toHaveLength(21);
    expect(resourceRequests(a).every((r) => r.authorization === 'Bearer tok-1')).toBe(true);
  });

  it('rejects with a TypeError on the 21st redirect', async () => {
    const error = await rejectionOf(within(apiFetch()(a.url('/chain/25')), 5000));

    expect(error).toBeInstanceOf(TypeError);
    expect(String(error.message)).toMatch(/redirect/);
    expect(resourceRequests(a)).toHaveLength(21);
  });

  it('returns a 401 from the other origin without getting a new token (no token was sent there)', async () => {
    const res = await apiFetch()(redirectTo(302, b.url('/unauthorized')));

    expect(res.status).toBe(401);
    expect(b.requests).toHaveLength(1);
    expect(tokenRequests()).toHaveLength(1);
  });

  it('a 401 after a same-origin redirect is retried once with a fresh token', async () => {
    const res = await apiFetch()(redirectTo(302, '/unauthorized'));

    expect(res.status).toBe(401);
    expect(tokenRequests()).toHaveLength(2);
    expect(resourceRequests(a).map((r) => r.authorization)).toEqual(['Bearer tok-1', 'Bearer tok-1', 'Bearer tok-2', 'Bearer tok-2']);
  });
});

describe('the fetch function used', () => {
  it("is called once per hop with redirect: 'manual', so it never follows a redirect itself", async () => {
    const apiFetch = newClient({ tokenEndpoint: a.url('/token') }).createFetch({ fetch: userFetch });

    await apiFetch(redirectTo(307, b.url('/echo')));

    expect(userCalls).toEqual([
      { url: redirectTo(307, b.url('/echo')), redirect: 'manual' },
      { url: b.url('/echo'), redirect: 'manual' },
    ]);
  });

  it("a fetch that clones its responses (a tee'd body) does not make a redirect hang", async () => {
    const copies: Response[] = [];
    const logging: typeof globalThis.fetch = async (input, init) => {
      const response = await globalThis.fetch(input, init);
      copies.push(response.clone());
      return response;
    };
    const apiFetch = newClient({ tokenEndpoint: a.url('/token') }).createFetch({ fetch: logging });

    const res = await within(apiFetch(redirectTo(302, b.url('/echo'))));

    expect(res.status).toBe(200);
    expect(copies.map((c) => c.status)).toEqual([302, 200]);
  });

  it('client.fetch drops the token on a redirect to another origin too', async () => {
    const client = newClient({ tokenEndpoint: a.url('/token') });

    const res = await client.fetch(redirectTo(302, b.url('/echo')));

    expect(await res.json()).toMatchObject({ authorization: null });
    expect(resourceRequests(a).map((r) => r.authorization)).toEqual(['Bearer tok-1']);
  });

  it('with allowedOrigins, a redirect to an origin outside the list is followed without the token', async () => {
    const apiFetch = newClient({ tokenEndpoint: a.url('/token') }).createFetch({ allowedOrigins: [a.origin] });

    const res = await apiFetch(redirectTo(302, b.url('/echo')));

    expect(await res.json()).toMatchObject({ authorization: null });
    expect(b.requests.map((r) => r.authorization)).toEqual([undefined]);
  });
});
