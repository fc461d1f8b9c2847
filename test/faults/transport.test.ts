/**
 * Fault injection at the transport level, against a real loopback server: resets, truncated framing,
 * hangs, stalls, trickles, a closed port. Every `getToken()` either recovers or rejects with the right
 * `TokenError` code within the documented worst case, `timeout × (retries + 1) + retries × maxDelay`
 * (plus a generous slack: a correctness bound, not a benchmark), and lets go of every connection.
 */
import { describe, expect, it } from 'vitest';
import { TokenError } from '../../src/index.js';
import {
  FAST,
  SLACK,
  closeBeforeResponse,
  hang,
  notHttp,
  partialThen,
  resetBeforeResponse,
  settle,
  slowHeaders,
  stalledBody,
  timedRejection,
  token,
  trickle,
  useFaultHarness,
  worstCase,
  type Behavior,
  type FaultServer,
} from './fault-server.js';
import { waitUntil } from '../helpers/time.js';

const h = useFaultHarness();
const BOUND = worstCase(FAST) + SLACK;
const ATTEMPTS = FAST.retry.retries + 1;

/**
 * Every connection that carried a failed attempt gets closed: the client lets go of it instead of
 * keeping a broken or hanging socket. (undici may keep an idle spare connection open; it carries no
 * request and is not counted.)
 */
async function expectAllClosed(server: FaultServer) {
  await waitUntil(() => server.requests.every((r) => r.closedAt !== undefined), { timeout: 2_000 });
}

describe('transport faults: retried, then the right code within the bound', () => {
  const retriedNetworkFaults: [string, Behavior][] = [
    ['a TCP reset before any response byte', resetBeforeResponse],
    ['a clean close before any response byte', closeBeforeResponse],
    ['a TCP reset mid-response (headers and part of the body sent)', partialThen('reset')],
    ['a close mid-response (content-length promises more: truncated framing)', partialThen('close')],
    ['bytes that are not HTTP (another protocol on the port)', notHttp],
  ];

  it.each(retriedNetworkFaults)('%s → NETWORK after every attempt', async (_name, behavior) => {
    const server = await h.server(behavior);
    const client = h.client(server, FAST);
    const { error, elapsed } = await timedRejection(() => client.getToken());
    expect(TokenError.is(error)).toBe(true);
    expect(error.code).toBe('NETWORK');
    expect(error.status).toBeUndefined();
    expect(server.requests).toHaveLength(ATTEMPTS);
    expect(elapsed).toBeLessThanOrEqual(BOUND);
    await expectAllClosed(server);
  });

  const trickling = trickle(1000);
  const timeoutFaults: [string, Behavior][] = [
    ['accept, then never answer', hang],
    ['a status line and headers that trickle and never end', slowHeaders(100)],
    ['headers, then a body that stalls', stalledBody],
    ['a body that trickles one byte a second', trickling],
  ];

  it.each(timeoutFaults)('%s → TIMEOUT: the attempt timeout covers the whole body', async (_name, behavior) => {
    const server = await h.server(behavior);
    const client = h.client(server, FAST);
    const { error, elapsed } = await timedRejection(() => client.getToken());
    expect(TokenError.is(error)).toBe(true);
    expect(error.code).toBe('TIMEOUT');
    expect(server.requests).toHaveLength(ATTEMPTS);
    expect(elapsed).toBeLessThanOrEqual(BOUND);
    // Each attempt was given its time (not cut short), and then the client closed the connection itself
    // without waiting for the rest of the body.
    expect(elapsed).toBeGreaterThanOrEqual(FAST.timeout * ATTEMPTS - 50);
    await expectAllClosed(server);
    for (const request of server.requests) {
      expect(request.completed).toBe(false);
      expect(request.closedAt! - request.at).toBeLessThan(FAST.timeout + SLACK);
    }
    // The trickle: one byte at once, the next a second later; no attempt lived long enough for two.
    if (behavior === trickling) expect(server.requests.map((r) => r.bodyBytesWritten)).toEqual(Array(ATTEMPTS).fill(1));
  });

  it('a server that is down (port closed) → NETWORK (ECONNREFUSED) within the bound', async () => {
    const server = await h.server(token());
    await server.down();
    const client = h.client(server, FAST);
    const { error, elapsed } = await timedRejection(() => client.getToken());
    expect(error.code).toBe('NETWORK');
    expect(error.message).toContain('ECONNREFUSED');
    expect(elapsed).toBeLessThanOrEqual(BOUND);
    expect(server.requests).toHaveLength(0);
  });
});

describe('transport faults: recovery', () => {
  it('a server that comes back while getToken() is retrying: that same call succeeds', async () => {
    const server = await h.server(token());
    await server.down();
    const options = { timeout: 300, retry: { retries: 5, minDelay: 50, maxDelay: 200 } };
    const client = h.client(server, options);
    const retries: number[] = [];
    client.on('retry', (e) => retries.push(e.attempt));
    const started = Date.now();
    const pending = client.getToken();
    await waitUntil(() => retries.length >= 1); // at least one attempt was refused
    await server.up();
    const got = await pending;
    expect(got.accessToken).toMatch(/^tok-/);
    expect(Date.now() - started).toBeLessThanOrEqual(worstCase(options) + SLACK);
    expect(server.requests).toHaveLength(1);
  });

  it('a server that comes back after a failed call: the failure is not cached, the next call succeeds', async () => {
    const server = await h.server(token());
    await server.down();
    const client = h.client(server, FAST);
    expect((await timedRejection(() => client.getToken())).error.code).toBe('NETWORK');
    await server.up();
    const got = await client.getToken();
    expect(got.accessToken).toMatch(/^tok-/);
    expect(server.requests).toHaveLength(1);
  });

  it('a server going down between tokens (pooled keep-alive connection reset): the next request reconnects', async () => {
    const server = await h.server(token(3600));
    const client = h.client(server, FAST);
    await client.getToken();
    await server.down(); // resets the pooled connection
    await server.up();
    const again = await client.getToken({ forceRefresh: true });
    expect(again.accessToken).toMatch(/^tok-/);
    expect(server.requests).toHaveLength(2);
  });

  it.each([
    ['resets', resetBeforeResponse],
    ['hangs', hang],
    ['truncated responses', partialThen('close')],
  ] as [string, Behavior][])('two %s, then a token: getToken() succeeds on the third attempt within the bound', async (_name, fault) => {
    const server = await h.server(token());
    server.queue.push(fault, fault);
    const client = h.client(server, FAST);
    const started = Date.now();
    const got = await client.getToken();
    expect(got.accessToken).toMatch(/^tok-/);
    expect(Date.now() - started).toBeLessThanOrEqual(BOUND);
    expect(server.requests).toHaveLength(3);
    await settle();
  });

  it('concurrent callers during a fault storm share the attempts and all get the recovered token', async () => {
    const server = await h.server(token());
    server.queue.push(resetBeforeResponse, hang);
    const client = h.client(server, FAST);
    const tokens = await Promise.all(Array.from({ length: 50 }, () => client.getToken()));
    expect(new Set(tokens.map((t) => t.accessToken)).size).toBe(1);
    expect(server.requests).toHaveLength(3);
  });
});
