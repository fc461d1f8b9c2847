/**
 * How m2m-token/undici dispatches: at once with a cached token (never an expired one), in either of
 * undici's handler APIs (the caller's `request`/`fetch` handler, or another interceptor's handler that
 * speaks only `onRequestStart`), with the caller's headers in any form undici takes.
 */
import { Agent, type Dispatcher, interceptors, request } from 'undici';
import { afterEach, describe, expect, it } from 'vitest';
import { ClientCredentialsClient } from '../../src/index.js';
import { authorize } from '../../src/undici.js';
import { rejectionOf, useClients } from '../helpers/core.js';
import { handClock } from '../helpers/hand-clock.js';
import { useLoopbackApi } from '../helpers/loopback-api.js';
import { sendJson, startServer } from '../helpers/resource.js';
import { waitUntil } from '../helpers/time.js';

const newClient = useClients({ clientId: 'svc-u', clientSecret: 'undici-test-secret', retry: false, allowInsecureHttp: true });
const startApi = useLoopbackApi();
const agents: Agent[] = [];
afterEach(async () => {
  await Promise.all(agents.splice(0).map((a) => a.close()));
});

function newAgent(): Agent {
  const agent = new Agent();
  agents.push(agent);
  return agent;
}

/** An interceptor composed outside ours that hands on a handler with only the `onRequestStart` API (as undici's own do). */
const onRequestStartOnly: Dispatcher.DispatcherComposeInterceptor = (dispatch) => (opts, handler) =>
  dispatch(opts, {
    onRequestStart: (c, context) => handler.onRequestStart?.(c, context),
    onRequestUpgrade: (c, status, headers, socket) => handler.onRequestUpgrade?.(c, status, headers, socket),
    onResponseStart: (c, status, headers, message) => handler.onResponseStart?.(c, status, headers, message),
    onResponseData: (c, chunk) => handler.onResponseData?.(c, chunk),
    onResponseEnd: (c, trailers) => handler.onResponseEnd?.(c, trailers),
    onResponseError: (c, error) => handler.onResponseError?.(c, error),
  });

describe('m2m-token/undici dispatch', () => {
  it('sends the cached token while it is usable, and never once it expired: that request waits for a new one', async () => {
    const state = await startApi();
    const clock = handClock();
    const client = new ClientCredentialsClient(
      { tokenEndpoint: state.tokenUrl, clientId: 'svc-u', clientSecret: 's', retry: false, allowInsecureHttp: true },
      clock,
    );
    state.accepts = () => true;
    const dispatcher = newAgent().compose(authorize(client, { origins: [state.api.origin] }));
    const send = async (path: string) => (await request(state.api.url(path), { dispatcher })).body.dump();
    try {
      await send('/a');
      await send('/b');
      clock.advance(3_600_000); // past the token's expiry (1 h)
      await send('/c');

      expect(state.api.requests.map((r) => [r.path, r.authorization])).toEqual([
        ['/a', 'Bearer tok-1'],
        ['/b', 'Bearer tok-1'],
        ['/c', 'Bearer tok-2'],
      ]);
      expect(state.issued()).toBe(2);
    } finally {
      await client.close();
    }
  });

  it('a handler that speaks only onRequestStart gets the token and, after a 401 for it, one resend with the body', async () => {
    const state = await startApi();
    const client = newClient({ tokenEndpoint: state.tokenUrl });
    const dispatcher = newAgent().compose(authorize(client, { origins: [state.api.origin] }), onRequestStartOnly);
    await (await request(state.api.url('/warm'), { dispatcher })).body.dump();
    state.accepts = (token) => token !== 'tok-1';

    const res = await request(state.api.url('/orders'), { dispatcher, method: 'POST', body: 'order=1' });

    expect(res.statusCode).toBe(200);
    expect(await res.body.json()).toEqual({ ok: true, body: 'order=1' });
    expect(state.api.requests.map((r) => [r.path, r.authorization])).toEqual([
      ['/warm', 'Bearer tok-1'],
      ['/orders', 'Bearer tok-1'],
      ['/orders', 'Bearer tok-2'],
    ]);
  });

  it('a handler that speaks only onRequestStart: a second 401 goes back to it, and so does an insufficient_scope 401', async () => {
    const state = await startApi();
    const client = newClient({ tokenEndpoint: state.tokenUrl });
    const dispatcher = newAgent().compose(authorize(client, { origins: [state.api.origin] }), onRequestStartOnly);
    state.accepts = () => false;

    const twice = await request(state.api.url('/o'), { dispatcher });
    expect(twice.statusCode).toBe(401);
    expect(await twice.body.json()).toEqual({ error: 'invalid_token' });
    state.challenge = 'Bearer error="insufficient_scope"';
    const scope = await request(state.api.url('/admin'), { dispatcher });
    await scope.body.dump();

    expect(scope.statusCode).toBe(401);
    expect(state.api.requests.map((r) => [r.path, r.authorization])).toEqual([
      ['/o', 'Bearer tok-1'],
      ['/o', 'Bearer tok-2'],
      ['/admin', 'Bearer tok-2'],
    ]);
  });

  it.each([
    ['the caller’s own (request’s handler, first API)', [] as Dispatcher.DispatcherComposeInterceptor[]],
    ['one that speaks only onRequestStart', [onRequestStartOnly]],
  ])('an abort while the token is awaited rejects without sending: handler %s', async (_name, outer) => {
    const { api } = await startApi();
    const held = await startServer(() => {}); // a token endpoint that never answers
    try {
      const client = newClient({ tokenEndpoint: held.url('/token') });
      const dispatcher = newAgent().compose(authorize(client, { origins: [api.origin] }), ...outer);
      const controller = new AbortController();

      const pending = rejectionOf(request(api.url('/orders'), { dispatcher, signal: controller.signal }));
      await waitUntil(() => held.requests.length > 0);
      controller.abort(new Error('caller gave up'));

      expect(String(await pending)).toMatch(/abort|gave up/i);
      expect(api.requests).toHaveLength(0);
    } finally {
      await held.close();
    }
  });

  it.each([
    ['request’s handler', false],
    ['a handler that speaks only onRequestStart', true],
  ])('an abort while the resend after a 401 waits for its new token rejects at once (%s)', async (_, onlyNew) => {
    const { api } = await startApi();
    let asked = 0;
    // Answers the first token request; the second (for the resend) never.
    const tokens = await startServer((_req, res) => {
      asked++;
      if (asked === 1) sendJson(res, 200, { access_token: 'tok-1', token_type: 'Bearer', expires_in: 3600 });
    });
    try {
      const client = newClient({ tokenEndpoint: tokens.url('/token') });
      const ours = authorize(client, { origins: [api.origin] });
      const dispatcher = onlyNew ? newAgent().compose(ours, onRequestStartOnly) : newAgent().compose(ours);
      const controller = new AbortController();

      const pending = rejectionOf(request(api.url('/orders'), { dispatcher, signal: controller.signal }));
      await waitUntil(() => asked === 2);
      controller.abort(new Error('caller gave up'));

      expect(String(await pending)).toMatch(/abort|gave up/i);
      expect(api.requests.map((r) => r.authorization)).toEqual(['Bearer tok-1']);
    } finally {
      await tokens.close();
    }
  });

  it.each([
    ['an object', { 'x-trace': 't-1', AUTHORIZATION: 'Bearer forged', DPoP: 'forged', 'x-multi': ['a', 'b'] }],
    ['a flat array', ['x-trace', 't-1', 'Authorization', 'Bearer forged', 'x-multi', 'a', 'x-multi', 'b']],
    [
      'an iterable of pairs',
      new Map<string, string | string[]>([
        ['x-trace', 't-1'],
        ['authorization', 'Bearer forged'],
        ['x-multi', ['a', 'b']],
      ]),
    ],
  ])('keeps the caller’s headers given as %s, with its authorization and dpop replaced by ours', async (_, headers) => {
    const state = await startApi();
    const client = newClient({ tokenEndpoint: state.tokenUrl });
    const dispatcher = newAgent().compose(authorize(client, { origins: [state.api.origin] }));

    const res = await request(state.api.url('/h'), { dispatcher, headers: headers as never });
    await res.body.dump();

    expect(res.statusCode).toBe(200);
    const seen = state.api.requests[0]!.headers;
    expect([seen['x-trace'], seen['x-multi'], seen.authorization, seen.dpop]).toEqual(['t-1', 'a, b', 'Bearer tok-1', undefined]);
  });

  it.each([
    ['outside it (each hop checked)', 'outside'],
    ['inside it', 'inside'],
  ])(
    'composes with undici’s redirect interceptor %s: the token reaches listed origins only, a 401 still gets its resend',
    async (_, where) => {
      const state = await startApi();
      const client = newClient({ tokenEndpoint: state.tokenUrl });
      // A listed origin that sends every request on to an unlisted one.
      const hop = await startServer((_req, res) => {
        res.writeHead(302, { location: state.other.url('/landed') });
        res.end();
      });
      const ours = authorize(client, { origins: [state.api.origin, hop.origin] });
      const redirect = interceptors.redirect({ maxRedirections: 2 });
      const dispatcher = where === 'outside' ? newAgent().compose(ours, redirect) : newAgent().compose(redirect, ours);
      try {
        await (await request(state.api.url('/warm'), { dispatcher })).body.dump();
        state.accepts = (token) => token !== 'tok-1';
        const fresh = await request(state.api.url('/orders'), { dispatcher });
        await fresh.body.dump();
        const away = await request(hop.url('/away'), { dispatcher });
        await away.body.dump();

        expect([fresh.statusCode, away.statusCode]).toEqual([200, 200]);
        expect(state.api.requests.map((r) => [r.path, r.authorization])).toEqual([
          ['/warm', 'Bearer tok-1'],
          ['/orders', 'Bearer tok-1'],
          ['/orders', 'Bearer tok-2'],
        ]);
        expect(hop.requests.map((r) => r.authorization)).toEqual(['Bearer tok-2']);
        expect(state.other.requests.map((r) => [r.path, r.authorization])).toEqual([['/landed', undefined]]);
      } finally {
        await hop.close();
      }
    },
  );

  it('reads a large response through the interceptor to its end (pauses and resumes pass through)', async () => {
    const big = 'x'.repeat(4 * 1024 * 1024);
    const api = await startServer((_req, res) => res.end(big));
    try {
      const { tokenUrl } = await startApi();
      const client = newClient({ tokenEndpoint: tokenUrl });
      const dispatcher = newAgent().compose(authorize(client, { origins: [api.origin] }));

      const res = await request(api.url('/big'), { dispatcher });
      let length = 0;
      for await (const chunk of res.body) {
        length += (chunk as Buffer).length;
        await new Promise((resolve) => setImmediate(resolve)); // a slow reader: the body stream fills and pauses
      }

      expect(length).toBe(big.length);
      expect(api.requests.map((r) => r.authorization)).toEqual(['Bearer tok-1']);
    } finally {
      await api.close();
    }
  });
});

describe("the caller's headers, as interceptors composed inside this one expect them", () => {
  it('undici retry() inside: a download resumed with Range still carries the token in `authorization`', async () => {
    const { tokenUrl } = await startApi();
    const seen: Record<string, unknown>[] = [];
    const api = await startServer((req, res) => {
      seen.push({ ...req.headers });
      if (seen.length === 1) {
        res.writeHead(200, { 'content-length': '100', etag: '"e1"' });
        res.write('x'.repeat(50));
        setTimeout(() => res.socket?.destroy(), 20);
      } else {
        res.writeHead(206, { 'content-range': 'bytes 50-99/100', 'content-length': '50', etag: '"e1"' });
        res.end('y'.repeat(50));
      }
    });
    try {
      const client = newClient({ tokenEndpoint: tokenUrl });
      const dispatcher = newAgent().compose(
        interceptors.retry({ minTimeout: 10, maxRetries: 2 }),
        authorize(client, { origins: [api.origin] }),
      );
      const res = await request(api.url('/file'), { dispatcher, headers: { 'x-trace': 't-1' } });
      expect(await res.body.text()).toBe('x'.repeat(50) + 'y'.repeat(50));
      expect(seen.map((h) => [h.authorization, h['x-trace'], h.range])).toEqual([
        ['Bearer tok-1', 't-1', undefined],
        ['Bearer tok-1', 't-1', 'bytes=50-99'],
      ]);
    } finally {
      await api.close();
    }
  });

  it('undici cache() inside: a header value undici accepts in an object (a number) is still accepted', async () => {
    const state = await startApi();
    const client = newClient({ tokenEndpoint: state.tokenUrl });
    const dispatcher = newAgent().compose(interceptors.cache(), authorize(client, { origins: [state.api.origin] }));
    const res = await request(state.api.url('/x'), { dispatcher, headers: { 'x-n': 1 } as never });
    await res.body.dump();
    expect(res.statusCode).toBe(200);
  });

  it('headers that cannot be read fail the request while its token is awaited, without an unhandled rejection', async () => {
    const state = await startApi();
    const client = newClient({ tokenEndpoint: state.tokenUrl });
    const dispatcher = newAgent().compose(authorize(client, { origins: [state.api.origin] }));
    const unhandled: unknown[] = [];
    const onUnhandled = (reason: unknown) => unhandled.push(reason);
    process.on('unhandledRejection', onUnhandled);
    try {
      // The first request of the client: its token is awaited, the headers are read afterwards.
      const error = await rejectionOf(request(state.api.url('/x'), { dispatcher, headers: [['x-a', '1'], null] as never }));
      expect(error).toBeInstanceOf(Error);
      await new Promise((resolve) => setImmediate(resolve));
      expect(unhandled).toEqual([]);
      expect(state.api.requests).toEqual([]);
    } finally {
      process.off('unhandledRejection', onUnhandled);
    }
  });
});
