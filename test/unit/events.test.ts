/**
 * The client's events (`token`, `retry`, `error`, `revoke`): their payloads, their order, their
 * `node:diagnostics_channel` twins, the unsubscribe function, listener failures, and the promise that
 * nothing is built while nobody listens. HTTP is answered by msw.
 */
import { subscribe, unsubscribe } from 'node:diagnostics_channel';
import { inspect } from 'node:util';
import { http, HttpResponse } from 'msw';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { Events, fingerprint } from '../../src/events.js';
import {
  type ClientCredentialsClient,
  type ClientEventMap,
  type ClientEventName,
  diagnosticsChannels,
  type ErrorEvent,
  type RetryEvent,
  type RevokeEvent,
  type TokenEvent,
  TokenError,
} from '../../src/index.js';
import { leakyToken, rejectionOf, SECRET, tokenJson, useClients } from '../helpers/core.js';
import { waitUntil } from '../helpers/time.js';
import { ISSUER, REVOKE_URL, TOKEN_URL, useMswServer } from '../helpers/msw.js';

const server = useMswServer();
const makeClient = useClients();

const NAMES: readonly ClientEventName[] = ['token', 'retry', 'error', 'revoke'];
const FAST = { retries: 3, minDelay: 2, maxDelay: 50 };
const BASIC = Buffer.from(`svc-a:${SECRET}`).toString('base64');

/** Channel subscriptions made by a test, undone after it (the channels are process-wide). */
const subscriptions: [string, (message: unknown, name: string | symbol) => void][] = [];
function subscribeChannel(name: string, fn: (message: unknown, name: string | symbol) => void): void {
  subscribe(name, fn);
  subscriptions.push([name, fn]);
}
afterEach(() => {
  for (const [name, fn] of subscriptions.splice(0)) unsubscribe(name, fn);
  for (const name of NAMES) expect(diagnosticsChannels[name].hasSubscribers, `a subscriber of ${name} was left behind`).toBe(false);
});

/** Records every event of a client, in order, as `[name, payload]`. */
function record(client: ClientCredentialsClient) {
  const seen: [ClientEventName, unknown][] = [];
  for (const name of NAMES) client.on(name, (event) => seen.push([name, event]));
  return {
    seen,
    names: () => seen.map(([name]) => name),
    of: <E extends ClientEventName>(name: E) => seen.filter(([n]) => n === name).map(([, e]) => e as ClientEventMap[E]),
  };
}

/** A token endpoint answering `replies[n - 1]()` to the n-th request (the last one repeats). */
function scripted(replies: (() => Response)[], url = TOKEN_URL) {
  let n = 0;
  const handler = http.post(url, () => replies[Math.min(++n, replies.length) - 1]!());
  return { handler, count: () => n };
}

const unavailable = () => HttpResponse.json({ error: 'temporarily_unavailable' }, { status: 503 });
const revoked = () => new HttpResponse(null, { status: 200 });

/** Fails when `text` contains the secret, one of `tokens`, or the Basic credentials. */
function expectNoSecrets(text: string, tokens: readonly string[]): void {
  expect(text).not.toContain(SECRET);
  expect(text).not.toContain(BASIC);
  expect(text).not.toContain(Buffer.from(SECRET).toString('base64'));
  for (const token of tokens) expect(text).not.toContain(token);
}

describe('the token event', () => {
  it('describes a first acquisition: client, key, fingerprint, expiry, duration, one attempt, not background', async () => {
    server.use(http.post(TOKEN_URL, () => tokenJson(leakyToken(1), 3600)));
    const client = makeClient({ scope: ['orders:read', 'orders:write'], audience: 'https://api.example.com', resource: 'urn:orders' });
    const events = record(client);
    const before = Date.now();
    const token = await client.getToken();

    expect(events.names()).toEqual(['token']);
    const [event] = events.of('token');
    expect(event).toEqual({
      clientId: 'svc-a',
      key: 'scope=orders:read orders:write audience=https://api.example.com resource=urn:orders',
      fingerprint: fingerprint(leakyToken(1)),
      expiresAt: token.expiresAt,
      duration: expect.any(Number),
      attempts: 1,
      source: 'server',
      background: false,
    } satisfies TokenEvent);
    expect(event!.fingerprint).toMatch(/^[\w-]{12}$/);
    expect(event!.duration).toBeGreaterThanOrEqual(0);
    expect(event!.duration).toBeLessThanOrEqual(Date.now() - before);
    expect(Object.isFrozen(event)).toBe(true);
  });

  it('has an empty key for the default scope and a new fingerprint for each new token', async () => {
    const tokens = scripted([() => tokenJson(leakyToken(1)), () => tokenJson(leakyToken(2))]);
    server.use(tokens.handler);
    const client = makeClient();
    const events = record(client);
    await client.getToken();
    await client.getToken({ forceRefresh: true });
    const [first, second] = events.of('token');
    expect(first!.key).toBe('');
    expect(first!.fingerprint).toBe(fingerprint(leakyToken(1)));
    expect(second!.fingerprint).toBe(fingerprint(leakyToken(2)));
    expect(second!.fingerprint).not.toBe(first!.fingerprint);
  });

  it('counts 3 attempts after two 503s, and comes after the two retry events', async () => {
    const tokens = scripted([unavailable, unavailable, () => tokenJson(leakyToken(3))]);
    server.use(tokens.handler);
    const client = makeClient({ retry: FAST });
    const events = record(client);
    await client.getToken();

    expect(tokens.count()).toBe(3);
    expect(events.names()).toEqual(['retry', 'retry', 'token']);
    expect(events.of('token')[0]!.attempts).toBe(3);
  });

  it('marks a background refresh with background: true while the caller is served the current token', async () => {
    const tokens = scripted([() => tokenJson(leakyToken(1)), () => tokenJson(leakyToken(2))]);
    server.use(tokens.handler);
    // refreshRatio 0: the refresh is due as soon as the token is stored.
    const client = makeClient({ refreshRatio: 0, refreshJitter: 0 });
    const events = record(client);
    const first = await client.getToken();
    expect(events.of('token').map((e) => e.background)).toEqual([false]);

    expect(await client.getToken()).toBe(first);
    await waitUntil(() => expect(events.of('token')).toHaveLength(2));
    const refreshed = events.of('token')[1]!;
    expect(refreshed.background).toBe(true);
    expect(refreshed.attempts).toBe(1);
    expect(refreshed.fingerprint).toBe(fingerprint(leakyToken(2)));
    expect(tokens.count()).toBe(2);
  });
});

describe('the retry event', () => {
  it('gives the failed attempt, the delay before the next one, the reason and the status, for the token operation', async () => {
    server.use(scripted([unavailable, () => HttpResponse.error(), () => tokenJson(leakyToken(1))]).handler);
    const client = makeClient({ retry: FAST });
    const events = record(client);
    await client.getToken();

    const [first, second] = events.of('retry');
    expect(first).toEqual({
      clientId: 'svc-a',
      operation: 'token',
      attempt: 1,
      delay: expect.any(Number),
      reason: 'OAUTH_ERROR',
      status: 503,
    } satisfies RetryEvent);
    expect(second).toEqual({
      clientId: 'svc-a',
      operation: 'token',
      attempt: 2,
      delay: expect.any(Number),
      reason: 'NETWORK',
      status: undefined,
    } satisfies RetryEvent);
    // minDelay × 2^(attempt − 1), with jitter ×1 to ×2.
    expect(first!.delay).toBeGreaterThanOrEqual(2);
    expect(first!.delay).toBeLessThanOrEqual(4);
    expect(second!.delay).toBeGreaterThanOrEqual(4);
    expect(second!.delay).toBeLessThanOrEqual(8);
    expect(Object.isFrozen(first)).toBe(true);
  });

  it('reports the delay asked for by Retry-After, capped at maxDelay', async () => {
    const busy = () => HttpResponse.json({ error: 'slow_down' }, { status: 429, headers: { 'retry-after': '1' } });
    server.use(scripted([busy, () => tokenJson(leakyToken(1))]).handler);
    const client = makeClient({ retry: { retries: 1, minDelay: 1, maxDelay: 30 } });
    const events = record(client);
    await client.getToken();
    expect(events.of('retry')).toEqual([expect.objectContaining({ attempt: 1, delay: 30, reason: 'OAUTH_ERROR', status: 429 })]);
  });

  it('has operation revoke for a retried revocation, followed by the revoke event', async () => {
    server.use(
      http.post(TOKEN_URL, () => tokenJson(leakyToken(1))),
      scripted([unavailable, revoked], REVOKE_URL).handler,
    );
    const client = makeClient({ retry: FAST, revocationEndpoint: REVOKE_URL });
    const events = record(client);
    await client.getToken();
    await client.revoke();

    expect(events.names()).toEqual(['token', 'retry', 'revoke']);
    expect(events.of('retry')[0]).toMatchObject({ operation: 'revoke', attempt: 1, reason: 'OAUTH_ERROR', status: 503 });
    expect(events.of('revoke')[0]).toMatchObject({ ok: true });
  });

  it('has operation discovery for a retried metadata request', async () => {
    let metadataRequests = 0;
    server.use(
      http.get(`${ISSUER}/.well-known/oauth-authorization-server`, () =>
        ++metadataRequests === 1 ? unavailable() : HttpResponse.json({ issuer: ISSUER, token_endpoint: TOKEN_URL }),
      ),
      http.post(TOKEN_URL, () => tokenJson(leakyToken(1))),
    );
    const client = makeClient({ tokenEndpoint: undefined, issuer: ISSUER, retry: FAST });
    const events = record(client);
    await client.getToken();

    expect(metadataRequests).toBe(2);
    expect(events.names()).toEqual(['retry', 'token']);
    expect(events.of('retry')[0]).toMatchObject({ operation: 'discovery', attempt: 1, reason: 'OAUTH_ERROR', status: 503 });
  });
});

describe('the error event', () => {
  it('reports a failed token request with its operation, key and TokenError, not in the background', async () => {
    server.use(http.post(TOKEN_URL, () => HttpResponse.json({ error: 'invalid_scope' }, { status: 400 })));
    const client = makeClient({ scope: 'orders:admin' });
    const events = record(client);
    const thrown = await rejectionOf(client.getToken());

    expect(events.names()).toEqual(['error']);
    const [event] = events.of('error');
    expect(event).toEqual({
      clientId: 'svc-a',
      operation: 'token',
      key: 'scope=orders:admin',
      error: thrown,
      background: false,
    } satisfies ErrorEvent);
    expect(event!.error).toBeInstanceOf(TokenError);
    expect(event!.error.code).toBe('OAUTH_ERROR');
    expect(Object.isFrozen(event)).toBe(true);
  });

  it('comes after the retries when every attempt fails', async () => {
    server.use(scripted([unavailable]).handler);
    const client = makeClient({ retry: { ...FAST, retries: 2 } });
    const events = record(client);
    await rejectionOf(client.getToken());
    expect(events.names()).toEqual(['retry', 'retry', 'error']);
    expect(events.of('retry').map((e) => e.attempt)).toEqual([1, 2]);
    expect(events.of('error')[0]!.error).toMatchObject({ code: 'OAUTH_ERROR', status: 503 });
  });

  it('wraps a failure that is not a TokenError (a throwing custom fetch) in a TokenError', async () => {
    const client = makeClient({
      fetch: () => {
        throw new RangeError('custom fetch broke');
      },
    });
    const events = record(client);
    await rejectionOf(client.getToken());
    const [event] = events.of('error');
    expect(event!.error).toBeInstanceOf(TokenError);
    expect(event!.error.code).toBe('NETWORK');
  });

  it('reports a failed discovery under the token operation it prevented', async () => {
    server.use(
      http.get(`${ISSUER}/.well-known/oauth-authorization-server`, () =>
        HttpResponse.json({ issuer: 'https://evil.example.com', token_endpoint: TOKEN_URL }),
      ),
    );
    const client = makeClient({ tokenEndpoint: undefined, issuer: ISSUER });
    const events = record(client);
    await rejectionOf(client.getToken());
    expect(events.of('error')).toEqual([expect.objectContaining({ operation: 'token', key: '', background: false })]);
    expect(events.of('error')[0]!.error.code).toBe('INVALID_RESPONSE');
  });

  it('marks a failed background refresh with background: true; the caller still has the current token', async () => {
    server.use(scripted([() => tokenJson(leakyToken(1)), unavailable]).handler);
    const client = makeClient({ refreshRatio: 0, refreshJitter: 0 });
    const events = record(client);
    const first = await client.getToken();
    expect(await client.getToken()).toBe(first);
    await waitUntil(() => expect(events.of('error')).toHaveLength(1));
    expect(events.of('error')[0]).toMatchObject({ operation: 'token', background: true });
    expect(events.of('error')[0]!.error).toMatchObject({ code: 'OAUTH_ERROR', status: 503 });
  });
});

describe('the revoke event', () => {
  it('reports each revoked token by fingerprint with ok: true', async () => {
    const tokens = scripted([() => tokenJson(leakyToken(1)), () => tokenJson(leakyToken(2))]);
    server.use(tokens.handler, http.post(REVOKE_URL, revoked));
    const client = makeClient({ revocationEndpoint: REVOKE_URL });
    const events = record(client);
    await client.getToken();
    await client.getToken({ scope: 'other' });
    await client.revoke();

    const revokes = events.of('revoke');
    expect(revokes.map((e) => e.fingerprint).sort()).toEqual([fingerprint(leakyToken(1)), fingerprint(leakyToken(2))].sort());
    for (const event of revokes) {
      expect(event).toEqual({
        clientId: 'svc-a',
        fingerprint: expect.any(String),
        ok: true,
        error: undefined,
        duration: expect.any(Number),
      } satisfies RevokeEvent);
      expect(event.duration).toBeGreaterThanOrEqual(0);
      expect(Object.isFrozen(event)).toBe(true);
    }
  });

  it('reports a failed revocation with ok: false and the TokenError, the one revoke() rejects with', async () => {
    server.use(http.post(REVOKE_URL, () => HttpResponse.json({ error: 'unsupported_token_type' }, { status: 400 })));
    const client = makeClient({ revocationEndpoint: REVOKE_URL });
    const events = record(client);
    const thrown = await rejectionOf(client.revoke(leakyToken(7)));

    expect(events.names()).toEqual(['revoke']);
    const [event] = events.of('revoke');
    expect(event).toMatchObject({ fingerprint: fingerprint(leakyToken(7)), ok: false, error: thrown });
    expect(event!.error).toBeInstanceOf(TokenError);
    expect(event!.error!.code).toBe('OAUTH_ERROR');
  });

  it('is emitted by close({ revoke: true }) too', async () => {
    server.use(
      http.post(TOKEN_URL, () => tokenJson(leakyToken(1))),
      http.post(REVOKE_URL, revoked),
    );
    const client = makeClient({ revocationEndpoint: REVOKE_URL });
    const events = record(client);
    await client.getToken();
    expect(await client.close({ revoke: true })).toMatchObject({ revoked: 1, errors: [] });
    expect(events.of('revoke')).toEqual([expect.objectContaining({ fingerprint: fingerprint(leakyToken(1)), ok: true })]);
  });
});

describe('payloads', () => {
  it('never contain the client secret, an access token or the Basic credentials (JSON and inspect)', async () => {
    const tokens = scripted([
      unavailable,
      () => tokenJson(leakyToken(1)),
      () => HttpResponse.error(),
      () => tokenJson(leakyToken(2)),
      () => HttpResponse.json({ error: 'invalid_client' }, { status: 401 }),
    ]);
    const revocations = scripted(
      [unavailable, revoked, () => HttpResponse.json({ error: 'invalid_request' }, { status: 400 })],
      REVOKE_URL,
    );
    server.use(tokens.handler, revocations.handler);
    const client = makeClient({ retry: FAST, revocationEndpoint: REVOKE_URL, scope: 'orders:read' });
    const events = record(client);

    await client.getToken();
    await client.getToken({ forceRefresh: true });
    await client.revoke();
    await rejectionOf(client.revoke(leakyToken(3)));
    await rejectionOf(client.getToken());

    expect(new Set(events.names())).toEqual(new Set(NAMES));
    for (const [name, payload] of events.seen) {
      expect(Object.isFrozen(payload), name).toBe(true);
      expectNoSecrets(JSON.stringify(payload), [leakyToken(1), leakyToken(2), leakyToken(3)]);
      expectNoSecrets(inspect(payload, { depth: Infinity, showHidden: true }), [leakyToken(1), leakyToken(2), leakyToken(3)]);
    }
  });
});

describe('diagnostics_channel', () => {
  it('publishes on m2m-token:<event> the same payloads, in the same order, as the listeners get', async () => {
    expect(NAMES.map((name) => diagnosticsChannels[name].name)).toEqual(NAMES.map((name) => `m2m-token:${name}`));
    server.use(
      scripted([unavailable, () => tokenJson(leakyToken(1)), () => HttpResponse.json({ error: 'invalid_scope' }, { status: 400 })]).handler,
      http.post(REVOKE_URL, revoked),
    );
    const published: [string | symbol, unknown][] = [];
    for (const name of NAMES) subscribeChannel(`m2m-token:${name}`, (message, channel) => published.push([channel, message]));
    const client = makeClient({ retry: FAST, revocationEndpoint: REVOKE_URL });
    const events = record(client);

    await client.getToken();
    await rejectionOf(client.getToken({ scope: 'orders:admin' }));
    await client.revoke();

    expect(published.map(([channel]) => channel)).toEqual(['m2m-token:retry', 'm2m-token:token', 'm2m-token:error', 'm2m-token:revoke']);
    expect(published).toHaveLength(events.seen.length);
    published.forEach(([, message], i) => expect(message).toBe(events.seen[i]![1]));
  });

  it('delivers to a channel subscriber alone (no listener, no logger), and not after it unsubscribes', async () => {
    server.use(scripted([() => tokenJson(leakyToken(1)), () => tokenJson(leakyToken(2))]).handler);
    const client = makeClient();
    const received: TokenEvent[] = [];
    const onToken = (message: unknown) => received.push(message as TokenEvent);
    subscribe('m2m-token:token', onToken);
    try {
      await client.getToken();
    } finally {
      unsubscribe('m2m-token:token', onToken);
    }
    expect(received).toEqual([expect.objectContaining({ clientId: 'svc-a', fingerprint: fingerprint(leakyToken(1)), attempts: 1 })]);

    await client.getToken({ forceRefresh: true });
    expect(received).toHaveLength(1);
  });
});

describe('listeners', () => {
  it('stop receiving events once their unsubscribe function is called; calling it twice is harmless', async () => {
    server.use(scripted([() => tokenJson(leakyToken(1)), () => tokenJson(leakyToken(2))]).handler);
    const client = makeClient();
    const removed = vi.fn();
    const kept = vi.fn();
    const off = client.on('token', removed);
    client.on('token', kept);
    await client.getToken();
    expect(removed).toHaveBeenCalledTimes(1);

    off();
    off();
    await client.getToken({ forceRefresh: true });
    expect(removed).toHaveBeenCalledTimes(1);
    expect(kept).toHaveBeenCalledTimes(2);
  });

  it('a listener that throws does not break getToken(), the other listeners still run, and a process warning is emitted', async () => {
    server.use(http.post(TOKEN_URL, () => tokenJson(leakyToken(1))));
    const warnings: Error[] = [];
    const onWarning = (warning: Error) => warnings.push(warning);
    process.on('warning', onWarning);
    try {
      const client = makeClient();
      client.on('token', () => {
        throw new Error('listener exploded');
      });
      const after = vi.fn();
      client.on('token', after);
      const token = await client.getToken();
      expect(token.accessToken).toBe(leakyToken(1));
      expect(after).toHaveBeenCalledTimes(1);
      // A cached token does not fire the event again.
      expect(await client.getToken()).toBe(token);
      await waitUntil(() => expect(warnings.filter((w) => w.message.includes('listener exploded'))).toHaveLength(1));
    } finally {
      process.off('warning', onWarning);
    }
    const warning = warnings.find((w) => w.message.includes('listener exploded'))!;
    expect(warning.name).toBe('M2MTokenListenerWarning');
    expect(warning.message).toBe("m2m-token: a 'token' listener threw: listener exploded");
  });

  it('a listener that throws a non-Error still only causes a warning', async () => {
    server.use(http.post(TOKEN_URL, () => HttpResponse.json({ error: 'invalid_client' }, { status: 401 })));
    const warnings: Error[] = [];
    const onWarning = (warning: Error) => warnings.push(warning);
    process.on('warning', onWarning);
    try {
      const client = makeClient();
      client.on('error', () => {
        throw 'a string';
      });
      const error = await rejectionOf(client.getToken());
      expect(error.code).toBe('OAUTH_ERROR');
      await waitUntil(() => expect(warnings.filter((w) => w.message.includes('a string'))).toHaveLength(1));
    } finally {
      process.off('warning', onWarning);
    }
    const warning = warnings.find((w) => w.message.includes('a string'))!;
    expect(warning.name).toBe('M2MTokenListenerWarning');
    expect(warning.message).toBe("m2m-token: a 'error' listener threw: a string");
  });

  it('on() refuses an unknown event name or a listener that is not a function with a TypeError', () => {
    const client = makeClient();
    expect(() => client.on('tokens' as ClientEventName, () => {})).toThrow(TypeError);
    expect(() => client.on('constructor' as ClientEventName, () => {})).toThrow(TypeError);
    expect(() => client.on('token', 'not a function' as never)).toThrow(TypeError);
    expect(() => client.on('retry', undefined as never)).toThrow(TypeError);
  });
});

describe('the Events hub', () => {
  const payload = (): TokenEvent => ({
    clientId: 'c',
    key: '',
    fingerprint: 'f',
    expiresAt: 0,
    duration: 0,
    attempts: 1,
    source: 'server',
    background: false,
  });

  it('with no listener, no logger and no channel subscriber: wanted() is false and the payload is never built', () => {
    const events = new Events(undefined);
    const build = vi.fn(payload);
    for (const name of NAMES) {
      expect(events.wanted(name)).toBe(false);
      events.emit(name, build as never);
    }
    expect(build).not.toHaveBeenCalled();
  });

  it('a listener for another event does not make an event wanted; after unsubscribing it is not wanted again', () => {
    const events = new Events(undefined);
    const off = events.on('retry', () => {});
    expect(events.wanted('retry')).toBe(true);
    expect(events.wanted('token')).toBe(false);
    off();
    expect(events.wanted('retry')).toBe(false);
  });

  it('a listener, a channel subscriber or a logger each make the event wanted', () => {
    const withListener = new Events(undefined);
    withListener.on('token', () => {});
    expect(withListener.wanted('token')).toBe(true);

    expect(new Events({ debug() {} }).wanted('revoke')).toBe(true);

    const bare = new Events(undefined);
    subscribeChannel('m2m-token:error', () => {});
    expect(bare.wanted('error')).toBe(true);
    expect(bare.wanted('token')).toBe(false);
  });

  it('with a listener, a channel subscriber and a logger, builds the payload exactly once and hands all three the same frozen object', () => {
    const logger = { debug: vi.fn() };
    const events = new Events(logger);
    const listener = vi.fn();
    events.on('token', listener);
    const subscriber = vi.fn();
    subscribeChannel('m2m-token:token', subscriber);
    const build = vi.fn(payload);

    events.emit('token', build);

    expect(build).toHaveBeenCalledTimes(1);
    const event = listener.mock.calls[0]![0];
    expect(Object.isFrozen(event)).toBe(true);
    expect(subscriber).toHaveBeenCalledWith(event, 'm2m-token:token');
    expect(logger.debug).toHaveBeenCalledWith(event, 'm2m-token: token acquired for the default scope');
  });
});
