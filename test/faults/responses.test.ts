/**
 * Fault injection at the response level, against a real loopback server: oversized and compressed
 * bodies, truncated JSON, wrong content types, 5xx and 429 storms with and without `Retry-After`.
 * Each rejects with the pinned `TokenError` code within `timeout × (retries + 1) + retries × maxDelay`
 * (plus slack), or succeeds after recovery; retried exactly when the README says so.
 */
import { gzipSync } from 'node:zlib';
import { describe, expect, it } from 'vitest';
import { OAuthError, TokenError } from '../../src/index.js';
import {
  FAST,
  SLACK,
  gc,
  huge,
  json,
  raw,
  timedRejection,
  token,
  useFaultHarness,
  worstCase,
  type Behavior,
  type FaultServer,
} from './fault-server.js';
import { waitUntil } from '../helpers/time.js';

const h = useFaultHarness();
const BOUND = worstCase(FAST) + SLACK;
const ATTEMPTS = FAST.retry.retries + 1;
const MB = 1024 * 1024;
const tokenBody = JSON.stringify({ access_token: 'ct-token', token_type: 'Bearer', expires_in: 3600 });

async function rejection(server: FaultServer, options: typeof FAST | Parameters<typeof worstCase>[0] = FAST) {
  const client = h.client(server, options);
  const { error, elapsed } = await timedRejection(() => client.getToken());
  expect(TokenError.is(error)).toBe(true);
  expect(elapsed).toBeLessThanOrEqual(worstCase(options) + SLACK);
  return error as TokenError;
}

/** Peak growth of heap + ArrayBuffer memory while `run` runs, sampled every 2 ms from a GC'd baseline. */
async function peakMemoryGrowth(run: () => Promise<unknown>): Promise<number> {
  const collect = gc();
  const used = () => {
    const m = process.memoryUsage();
    return m.heapUsed + m.arrayBuffers;
  };
  collect();
  const base = used();
  let peak = base;
  const sampler = setInterval(() => (peak = Math.max(peak, used())), 2);
  try {
    await run();
  } finally {
    clearInterval(sampler);
  }
  return Math.max(peak, used()) - base;
}

describe('oversized bodies: never buffered, the client stops reading', () => {
  it.each([
    ['with a content-length', true],
    ['chunked, no length announced', false],
  ])('a 10 MB response %s → INVALID_RESPONSE, not retried, the connection closed before the server finished', async (_name, withLength) => {
    const size = 10 * MB;
    // Warm up (module loading, JIT) so that the measurement sees only the response.
    const warm = await h.server(huge(size, withLength));
    await rejection(warm);
    const server = await h.server(huge(size, withLength));
    let error: TokenError | undefined;
    const growth = await peakMemoryGrowth(async () => {
      error = await rejection(server);
    });
    expect(error!.code).toBe('INVALID_RESPONSE');
    expect(error!.status).toBe(200);
    expect(error!.message).toMatch(/larger than 1048576 bytes/);
    expect(server.requests).toHaveLength(1); // a 200 that is too large is not transient
    await waitUntil(() => server.requests[0]!.closedAt !== undefined, { timeout: 2_000 });
    const [request] = server.requests;
    expect(request!.completed).toBe(false);
    expect(request!.bodyBytesWritten).toBeLessThan(size); // what the kernel buffers took, at most
    // The default limit is 1 MiB: far from 10 MB even with the transport's own buffers.
    expect(growth).toBeLessThan(5 * MB);
  });

  it('a gzip bomb (100 MB of JSON whitespace in ~100 kB) → INVALID_RESPONSE: the limit counts decoded bytes', async () => {
    const bomb = gzipSync(Buffer.alloc(100 * MB, 0x20));
    const behavior: Behavior = ({ res }) => {
      res.writeHead(200, { 'content-type': 'application/json', 'content-encoding': 'gzip', 'content-length': bomb.length });
      res.end(bomb);
    };
    await rejection(await h.server(behavior)); // warm-up
    const server = await h.server(behavior);
    let error: TokenError | undefined;
    const growth = await peakMemoryGrowth(async () => {
      error = await rejection(server);
    });
    expect(error!.code).toBe('INVALID_RESPONSE');
    expect(error!.message).toMatch(/larger than 1048576 bytes/);
    expect(server.requests).toHaveLength(1);
    expect(growth).toBeLessThan(10 * MB);
  });

  it('maxResponseBytes is the limit: a body one byte over it is refused, one at it is read', async () => {
    const exact = Buffer.byteLength(tokenBody);
    const server = await h.server(raw(200, tokenBody, { 'content-type': 'application/json' }));
    const over = await rejection(server, { ...FAST, maxResponseBytes: exact - 1 } as typeof FAST);
    expect(over.code).toBe('INVALID_RESPONSE');
    const client = h.client(server, { ...FAST, maxResponseBytes: exact });
    expect((await client.getToken()).accessToken).toBe('ct-token');
  });
});

describe('malformed bodies and content types (the body is parsed as JSON whatever the content type)', () => {
  it('truncated JSON in a valid HTTP response → INVALID_RESPONSE (status 200), not retried', async () => {
    const server = await h.server(raw(200, tokenBody.slice(0, 40), { 'content-type': 'application/json' }));
    const error = await rejection(server);
    expect(error.code).toBe('INVALID_RESPONSE');
    expect(error.status).toBe(200);
    expect(error.message).toMatch(/not a JSON object/);
    expect(server.requests).toHaveLength(1);
  });

  it('an HTML page with 200 (a login page, a captive portal) → INVALID_RESPONSE, not retried', async () => {
    const server = await h.server(raw(200, '<!doctype html><html><body>Sign in</body></html>', { 'content-type': 'text/html' }));
    const error = await rejection(server);
    expect(error.code).toBe('INVALID_RESPONSE');
    expect(error.status).toBe(200);
    expect(server.requests).toHaveLength(1);
  });

  it.each([
    ['text/plain', { 'content-type': 'text/plain' }],
    ['text/html', { 'content-type': 'text/html; charset=utf-8' }],
    ['no content-type at all', {}],
  ] as [string, Record<string, string>][])(
    'a JSON token body labelled %s is accepted (pinned: content type is not checked)',
    async (_name, headers) => {
      const server = await h.server(raw(200, tokenBody, headers));
      const client = h.client(server, FAST);
      const got = await client.getToken();
      expect(got.accessToken).toBe('ct-token');
      expect(server.requests).toHaveLength(1);
    },
  );

  it('a 500 HTML error page → INVALID_RESPONSE with status 500, retried', async () => {
    const server = await h.server(raw(500, '<html><body>Internal Server Error</body></html>', { 'content-type': 'text/html' }));
    const error = await rejection(server);
    expect(error.code).toBe('INVALID_RESPONSE');
    expect(error.status).toBe(500);
    expect(server.requests).toHaveLength(ATTEMPTS);
  });

  it('400 invalid_client → OAUTH_ERROR, never retried, and the next call fails fast without a request', async () => {
    const server = await h.server(json(400, { error: 'invalid_client' }));
    const client = h.client(server, FAST);
    const first = (await timedRejection(() => client.getToken())).error;
    expect(first).toBeInstanceOf(OAuthError);
    expect(first.code).toBe('OAUTH_ERROR');
    expect(first.error).toBe('invalid_client');
    const second = (await timedRejection(() => client.getToken())).error;
    expect(second.code).toBe('OAUTH_ERROR');
    expect(server.requests).toHaveLength(1);
  });
});

describe('5xx and 429 storms', () => {
  /** Delays the client announced, and the gaps the server saw between attempts. */
  function observe(server: FaultServer, client: ReturnType<typeof h.client>) {
    const delays: number[] = [];
    client.on('retry', (e) => delays.push(e.delay));
    return {
      delays,
      gaps: () => server.requests.slice(1).map((r, i) => r.at - server.requests[i]!.at),
    };
  }

  it('503 without Retry-After → INVALID_RESPONSE (503) after every attempt; delays are the jittered backoff', async () => {
    const server = await h.server(raw(503, 'Service Unavailable', { 'content-type': 'text/plain' }));
    const client = h.client(server, FAST);
    const seen = observe(server, client);
    const { error, elapsed } = await timedRejection(() => client.getToken());
    expect(error.code).toBe('INVALID_RESPONSE');
    expect(error.status).toBe(503);
    expect(elapsed).toBeLessThanOrEqual(BOUND);
    expect(server.requests).toHaveLength(ATTEMPTS);
    // minDelay × 2^(n−1) × (1 to 2), each capped at maxDelay.
    seen.delays.forEach((delay, i) => {
      const base = FAST.retry.minDelay * 2 ** i;
      expect(delay).toBeGreaterThanOrEqual(base);
      expect(delay).toBeLessThanOrEqual(Math.min(FAST.retry.maxDelay, 2 * base));
    });
    seen.gaps().forEach((gap, i) => expect(gap).toBeGreaterThanOrEqual(seen.delays[i]! - 2));
  });

  it('503 temporarily_unavailable (OAuth body) → OAUTH_ERROR (503), retried', async () => {
    const server = await h.server(json(503, { error: 'temporarily_unavailable', error_description: 'maintenance' }));
    const error = await rejection(server);
    expect(error).toBeInstanceOf(OAuthError);
    expect(error.code).toBe('OAUTH_ERROR');
    expect(error.status).toBe(503);
    expect((error as OAuthError).error).toBe('temporarily_unavailable');
    expect(server.requests).toHaveLength(ATTEMPTS);
  });

  const retryAfterCases: [string, () => string, number][] = [
    // [description, header value, expected delay for each retry]
    ['delay-seconds (1 s, over maxDelay: capped)', () => '1', FAST.retry.maxDelay],
    ['delay-seconds (3600 s: capped, no hour-long wait)', () => '3600', FAST.retry.maxDelay],
    ['an HTTP date 5 s ahead (capped)', () => new Date(Date.now() + 5_000).toUTCString(), FAST.retry.maxDelay],
  ];

  it.each(retryAfterCases)('503 with Retry-After %s: each delay honours it up to maxDelay', async (_name, header, expected) => {
    const server = await h.server((ctx) => raw(503, '', { 'retry-after': header() })(ctx));
    const client = h.client(server, FAST);
    const seen = observe(server, client);
    const { error, elapsed } = await timedRejection(() => client.getToken());
    expect(error.code).toBe('INVALID_RESPONSE');
    expect(error.status).toBe(503);
    expect(elapsed).toBeLessThanOrEqual(BOUND);
    expect(seen.delays).toEqual(Array(FAST.retry.retries).fill(expected));
    seen.gaps().forEach((gap) => expect(gap).toBeGreaterThanOrEqual(expected - 2));
  });

  it('429 slow_down with Retry-After as an HTTP date → OAUTH_ERROR (429); delays capped at maxDelay', async () => {
    const server = await h.server(token());
    server.behavior = (ctx) => json(429, { error: 'slow_down' }, { 'retry-after': new Date(Date.now() + 3_000).toUTCString() })(ctx);
    const client = h.client(server, FAST);
    const seen = observe(server, client);
    const { error, elapsed } = await timedRejection(() => client.getToken());
    expect(error.code).toBe('OAUTH_ERROR');
    expect(error.status).toBe(429);
    expect((error as OAuthError).error).toBe('slow_down');
    expect(elapsed).toBeLessThanOrEqual(BOUND);
    expect(seen.delays).toEqual(Array(FAST.retry.retries).fill(FAST.retry.maxDelay));
    expect(server.requests).toHaveLength(ATTEMPTS);
  });

  it('429 with a Retry-After date in the past (or malformed) falls back to the backoff', async () => {
    const server = await h.server(token());
    server.queue.push(
      raw(429, '', { 'retry-after': new Date(Date.now() - 60_000).toUTCString() }),
      raw(429, '', { 'retry-after': 'soon, please' }),
    );
    const client = h.client(server, FAST);
    const seen = observe(server, client);
    expect((await client.getToken()).accessToken).toMatch(/^tok-/);
    expect(seen.delays).toHaveLength(2);
    seen.delays.forEach((delay, i) => {
      expect(delay).toBeGreaterThanOrEqual(FAST.retry.minDelay * 2 ** i);
      expect(delay).toBeLessThanOrEqual(2 * FAST.retry.minDelay * 2 ** i);
    });
  });

  it.each([
    ['503 with Retry-After: 0', raw(503, '', { 'retry-after': '0' })],
    ['429 with Retry-After: 1', json(429, { error: 'slow_down' }, { 'retry-after': '1' })],
    ['502 from a proxy', raw(502, 'Bad Gateway')],
  ] as [string, Behavior][])('a storm of %s shorter than the retries: getToken() succeeds within the bound', async (_name, fault) => {
    const server = await h.server(token());
    server.queue.push(fault, fault);
    const client = h.client(server, FAST);
    const started = Date.now();
    expect((await client.getToken()).accessToken).toMatch(/^tok-/);
    expect(Date.now() - started).toBeLessThanOrEqual(BOUND);
    expect(server.requests).toHaveLength(3);
  });

  it('a storm longer than the retries: this call fails, the next call after recovery succeeds', async () => {
    const server = await h.server(token());
    for (let i = 0; i < ATTEMPTS; i++) server.queue.push(raw(503, ''));
    const client = h.client(server, FAST);
    const error = (await timedRejection(() => client.getToken())).error;
    expect(error.code).toBe('INVALID_RESPONSE');
    expect(error.status).toBe(503);
    expect((await client.getToken()).accessToken).toMatch(/^tok-/);
    expect(server.requests).toHaveLength(ATTEMPTS + 1);
  });
});
