import { http, HttpResponse } from 'msw';
import { describe, expect, it } from 'vitest';
import { TokenError } from '../../src/index.js';
import { hangingEndpoint, TOKEN_URL, useMswServer } from '../helpers/msw.js';
import { deliveringFetch, heldEndpoint, rejectionOf, settleIo, stateOf, useClients, within } from '../helpers/core.js';
import { sleep } from '../helpers/time.js';

const server = useMswServer();
const makeClient = useClients();

describe('cancellation', () => {
  it('rejects an aborted caller with ABORTED while the others get the token from the one shared request', async () => {
    const held = heldEndpoint();
    server.use(held.handler);
    const client = makeClient();
    const controller = new AbortController();
    const reason = new Error('caller gave up');
    const others = Array.from({ length: 5 }, () => client.getToken());
    const aborted = client.getToken({ signal: controller.signal });
    const request = await held.arrived(1);

    controller.abort(reason);
    const error = await rejectionOf(within(aborted, 1000));
    expect(TokenError.is(error)).toBe(true);
    expect(error.code).toBe('ABORTED');
    expect(error.cause).toBe(reason);
    expect(await stateOf(Promise.all(others))).toBe('pending');

    request.respond();
    const tokens = await Promise.all(others);
    for (const t of tokens) expect(t.accessToken).toBe('tok-1');
    expect(held.requests).toHaveLength(1);
  });

  it('lets the shared request finish and fill the cache when every caller aborted', async () => {
    const held = heldEndpoint();
    server.use(held.handler);
    const client = makeClient();
    const controller = new AbortController();
    const call = client.getToken({ signal: controller.signal });
    const request = await held.arrived(1);
    controller.abort();
    expect((await rejectionOf(call)).code).toBe('ABORTED');
    request.respond();
    // The request carried on: its token is cached and no new request is needed.
    const token = await within(client.getToken(), 1000);
    expect(token.accessToken).toBe('tok-1');
    expect(held.requests).toHaveLength(1);
  });

  it('rejects at once with ABORTED for an already-aborted signal, without sending a request', async () => {
    const held = heldEndpoint();
    server.use(held.handler);
    const { fetch, state } = deliveringFetch();
    const client = makeClient({ fetch });
    const reason = new Error('too late');
    const error = await rejectionOf(within(client.getToken({ signal: AbortSignal.abort(reason) }), 1000));
    expect(error.code).toBe('ABORTED');
    expect(error.cause).toBe(reason);
    await settleIo();
    expect(state.calls).toBe(0);
    expect(held.requests).toHaveLength(0);
  });

  it('rejects with ABORTED when a signal aborts while the caller waits for a retry', async () => {
    let requests = 0;
    server.use(
      http.post(TOKEN_URL, () => {
        requests++;
        return new HttpResponse('busy', { status: 503, headers: { 'retry-after': '30' } });
      }),
    );
    const client = makeClient({ retry: { retries: 3, minDelay: 1, maxDelay: 60_000 } });
    const error = await rejectionOf(within(client.getToken({ signal: AbortSignal.timeout(50) }), 2000));
    expect(error.code).toBe('ABORTED');
    expect(requests).toBe(1);
  });
});

describe('attempt timeout', () => {
  it('rejects with TIMEOUT when the server does not answer within `timeout`', async () => {
    const hanging = hangingEndpoint();
    server.use(hanging.handler);
    const client = makeClient({ timeout: 40 });
    const error = await rejectionOf(within(client.getToken(), 2000));
    expect(TokenError.is(error)).toBe(true);
    expect(error.code).toBe('TIMEOUT');
    expect(error.message).toContain('40 ms');
    expect(hanging.seen).toHaveLength(1);
  });

  it('rejects with TIMEOUT when the body does not finish within `timeout`', async () => {
    server.use(
      http.post(TOKEN_URL, () => {
        const stream = new ReadableStream<Uint8Array>({
          start(controller) {
            controller.enqueue(new TextEncoder().encode('{"access_token":'));
            // …and nothing more, ever.
          },
        });
        return new HttpResponse(stream, { headers: { 'content-type': 'application/json' } });
      }),
    );
    const client = makeClient({ timeout: 40 });
    const error = await rejectionOf(within(client.getToken(), 2000));
    expect(error.code).toBe('TIMEOUT');
  });

  it('rejects with TIMEOUT even when a custom fetch ignores the abort signal', async () => {
    const fetch = () => new Promise<Response>(() => {});
    const error = await rejectionOf(within(makeClient({ fetch, timeout: 40 }).getToken(), 2000));
    expect(error.code).toBe('TIMEOUT');
  });

  it('rejects with TIMEOUT even when the body of a custom fetch ignores the abort signal', async () => {
    const fetch = async () =>
      new Response(
        new ReadableStream<Uint8Array>({
          start: (controller) => controller.enqueue(new TextEncoder().encode('{"access_token":')),
        }),
      );
    const error = await rejectionOf(within(makeClient({ fetch, timeout: 40 }).getToken(), 2000));
    expect(error.code).toBe('TIMEOUT');
  });

  it('answers a late response within timeout normally', async () => {
    server.use(
      http.post(TOKEN_URL, async () => {
        await sleep(20);
        return HttpResponse.json({ access_token: 'slow-but-fine', expires_in: 60 });
      }),
    );
    expect((await makeClient({ timeout: 2_000 }).getToken()).accessToken).toBe('slow-but-fine');
  });
});

describe('keep-alive while callers wait', () => {
  /**
   * Runs `body` while recording the intervals created and not yet cleared: the handle a waiting caller
   * holds to keep the process alive (the request it waits for may have only unref'ed timers left).
   */
  async function withLiveIntervals(body: (live: ReadonlySet<unknown>) => Promise<void>): Promise<void> {
    const live = new Set<unknown>();
    const realSetInterval = globalThis.setInterval;
    const realClearInterval = globalThis.clearInterval;
    globalThis.setInterval = ((...args: Parameters<typeof setInterval>) => {
      const handle = realSetInterval(...args);
      live.add(handle);
      return handle;
    }) as typeof setInterval;
    globalThis.clearInterval = ((handle?: Parameters<typeof clearInterval>[0]) => {
      live.delete(handle);
      realClearInterval(handle);
    }) as typeof clearInterval;
    try {
      await body(live);
    } finally {
      globalThis.setInterval = realSetInterval;
      globalThis.clearInterval = realClearInterval;
      for (const handle of live) realClearInterval(handle as NodeJS.Timeout);
    }
  }

  it('a caller that aborted and whose request then settles does not drop the keep-alive of another caller still waiting', async () => {
    await withLiveIntervals(async (live) => {
      const held = heldEndpoint();
      server.use(held.handler);
      const client = makeClient();
      const controller = new AbortController();
      const leaving = client.getToken({ scope: 'a', signal: controller.signal });
      const requestA = await held.arrived(1);
      const staying = client.getToken({ scope: 'b' });
      staying.catch(() => {}); // observed below; if the test fails first, closing the client rejects it
      const requestB = await held.arrived(2);
      expect(live.size).toBe(1); // one keep-alive for every waiting caller

      controller.abort();
      expect((await rejectionOf(within(leaving, 1000))).code).toBe('ABORTED');
      // The request the aborted caller had waited for settles: its wait is cleaned up a second time.
      requestA.respond();
      await settleIo();
      expect((await within(client.getToken({ scope: 'a' }), 1000)).accessToken).toBe('tok-1');

      expect(await stateOf(staying)).toBe('pending');
      expect(live.size, 'the keep-alive is held while a caller still waits').toBe(1);

      requestB.respond();
      expect((await within(staying, 1000)).accessToken).toBe('tok-2');
      expect(live.size, 'the keep-alive is let go once nobody waits').toBe(0);
    });
  });
});
