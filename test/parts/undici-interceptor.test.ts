/**
 * The undici interceptor's decisions, with undici played by the test: which requests it authorizes, the
 * headers it dispatches, when it resends (a 401 for the token it sent, a DPoP nonce), and where aborts
 * and failures go. Over real connections: test/integration/undici*.test.ts.
 */
import type { IncomingHttpHeaders } from 'node:http';
import type { Dispatcher } from 'undici';
import { describe, expect, it } from 'vitest';
import type { TokenSource } from '../../src/fetch/authorized-fetch.js';
import { undiciInterceptor } from '../../src/fetch/undici-interceptor.js';
import { DPoP } from '../../src/protocol/dpop.js';
import { createToken, type HeldToken } from '../../src/token.js';
import { undiciController } from './support.js';

const ORIGIN = 'https://api.example';

const tokenOf = (value: string, tokenType = 'Bearer') =>
  createToken({ accessToken: value, tokenType, expiresAt: Date.UTC(2030, 0, 1), extra: {} }) as HeldToken;

/** A token source: `tok-1`, `tok-2`, … from `get` (held while `hold` is set); `peek` has the current one. */
function source(options: { cached?: boolean; tokenType?: string; dpop?: DPoP } = {}) {
  let issued = 0;
  const next = () => tokenOf(`tok-${++issued}`, options.tokenType);
  let current: HeldToken | undefined = options.cached === false ? undefined : next();
  const state = { invalidated: [] as string[], gets: 0, hold: undefined as Promise<void> | undefined };
  const it: TokenSource = {
    peek: () => current,
    get: async () => {
      state.gets++;
      if (state.hold !== undefined) await state.hold;
      current ??= next();
      return current;
    },
    invalidate: (token) => {
      if (token !== current) return false;
      state.invalidated.push(token.accessToken);
      current = undefined;
      return true;
    },
    dpop: options.dpop,
  };
  return { source: it, state };
}

/** undici, played by the test: records each dispatch, and lets the test answer its handler. */
function undici() {
  const sent: { opts: Dispatcher.DispatchOptions; handler: Dispatcher.DispatchHandler }[] = [];
  const dispatch = (opts: Dispatcher.DispatchOptions, handler: Dispatcher.DispatchHandler) => {
    sent.push({ opts, handler });
    return true;
  };
  return { dispatch, sent };
}

/** Answers a dispatched attempt (onRequestStart API) with `status`, `headers` and a body. */
function answer(handler: Dispatcher.DispatchHandler, status: number, headers: IncomingHttpHeaders = {}) {
  const c = undiciController();
  handler.onRequestStart?.(c, {});
  handler.onResponseStart?.(c, status, headers, '');
  handler.onResponseData?.(c, Buffer.from('body'));
  handler.onResponseEnd?.(c, {});
  return c;
}

/** The caller's handler (onRequestStart API only), recording what reaches it; `onStart` runs in onRequestStart. */
function caller(onStart?: (controller: Dispatcher.DispatchController) => void) {
  const calls: unknown[][] = [];
  const handler: Dispatcher.DispatchHandler = {
    onRequestStart: (c) => {
      calls.push(['start']);
      onStart?.(c);
    },
    onResponseStart: (_c, status) => calls.push(['response', status]),
    onResponseData: () => calls.push(['data']),
    onResponseEnd: () => calls.push(['end']),
    onResponseError: (_c, error) => calls.push(['error', error]),
  };
  return { handler, calls };
}

/** Runs one request through the interceptor. */
function request(
  s: TokenSource,
  u: ReturnType<typeof undici>,
  handler: Dispatcher.DispatchHandler,
  opts: { [K in keyof Dispatcher.DispatchOptions]?: Dispatcher.DispatchOptions[K] | undefined } = {},
) {
  const dispatch = undiciInterceptor(s, new Set([ORIGIN]))(u.dispatch as unknown as Dispatcher.Dispatch);
  return dispatch({ origin: ORIGIN, path: '/orders', method: 'POST', body: '{}', ...opts } as Dispatcher.DispatchOptions, handler);
}

const flush = () => new Promise((resolve) => setImmediate(resolve));

describe('which requests are authorized', () => {
  it('a request without an origin, or to an origin not listed, goes on untouched', () => {
    const { source: s } = source();
    const u = undici();
    const { handler } = caller();
    request(s, u, handler, { origin: undefined });
    request(s, u, handler, { origin: 'https://other.example', headers: { authorization: 'Basic x' } });
    expect(u.sent.map((x) => [x.opts.headers, x.handler === handler])).toEqual([
      [undefined, true],
      [{ authorization: 'Basic x' }, true],
    ]);
  });

  it('a caller’s handler without the onRequestStart API is a TypeError naming undici 7', () => {
    const { source: s } = source();
    const legacyOnly = { onConnect() {}, onHeaders: () => true, onData: () => true, onComplete() {}, onError() {} };
    expect(() => request(s, undici(), legacyOnly as unknown as Dispatcher.DispatchHandler)).toThrow(/undici >= 7/);
  });
});

describe('the headers it dispatches', () => {
  it.each([
    ['a flat list', ['x-a', '1', 'Authorization', 'Basic x'], ['x-a', '1', 'authorization', 'Bearer tok-1']],
    ['an empty list', [], ['authorization', 'Bearer tok-1']],
    ['an object', { 'x-a': '1', DPoP: 'forged' }, { 'x-a': '1', authorization: 'Bearer tok-1' }],
    ['none', undefined, { authorization: 'Bearer tok-1' }],
  ])('%s of the caller’s stays in its form, with our authorization', (_, headers, expected) => {
    const { source: s } = source();
    const u = undici();
    request(s, u, caller().handler, { headers: headers as Dispatcher.DispatchOptions['headers'] });
    expect(u.sent[0]?.opts.headers).toStrictEqual(expected);
  });

  it('with DPoP: a proof for the request’s method and URL next to the token, in either form', async () => {
    const dpop = new DPoP(true);
    const { source: s } = source({ tokenType: 'DPoP', dpop });
    const u = undici();
    request(s, u, caller().handler, { headers: ['x-a', '1'] });
    request(s, u, caller().handler, { headers: { 'x-a': '1' }, method: 'GET', path: '/invoices' });
    await flush();
    await expect.poll(() => u.sent.length).toBe(2);
    // Proofs are signed concurrently: the two may be dispatched in either order.
    const list = u.sent.find((x) => Array.isArray(x.opts.headers))?.opts.headers as string[];
    const object = u.sent.find((x) => !Array.isArray(x.opts.headers))?.opts.headers as Record<string, string>;
    expect(list.slice(0, 4)).toEqual(['x-a', '1', 'authorization', 'DPoP tok-1']);
    expect(list[4]).toBe('dpop');
    expect(payloadOf(list[5]!)).toMatchObject({ htm: 'POST', htu: `${ORIGIN}/orders` });
    expect(object).toMatchObject({ 'x-a': '1', authorization: 'DPoP tok-1' });
    expect(payloadOf(object.dpop!)).toMatchObject({ htm: 'GET', htu: `${ORIGIN}/invoices` });
  });
});

function payloadOf(jwt: string): Record<string, unknown> {
  return JSON.parse(Buffer.from(jwt.split('.')[1]!, 'base64url').toString());
}

describe('resends', () => {
  it('a 401 for the token it sent: that token is invalidated and the request sent once more with the next; the caller sees only the second answer', async () => {
    const { source: s, state } = source();
    const u = undici();
    const { handler, calls } = caller();
    request(s, u, handler);
    answer(u.sent[0]!.handler, 401, { 'www-authenticate': 'Bearer error="invalid_token"' });
    await expect.poll(() => u.sent.length).toBe(2);
    answer(u.sent[1]!.handler, 200);

    expect(state.invalidated).toEqual(['tok-1']);
    expect(u.sent[1]!.opts.headers).toMatchObject({ authorization: 'Bearer tok-2' });
    expect(calls).toEqual([['start'], ['response', 200], ['data'], ['end']]);
  });

  it.each([
    ['a second 401', 401, { 'www-authenticate': 'Bearer error="invalid_token"' }, true],
    ['a 401 for another reason (insufficient_scope)', 401, { 'www-authenticate': 'Bearer error="insufficient_scope"' }, false],
    ['a 403', 403, {}, false],
    ['a 400 without a nonce request', 400, { 'www-authenticate': 'Bearer error="invalid_token"' }, false],
  ])('%s goes to the caller', async (_, status, headers, afterResend) => {
    const { source: s } = source();
    const u = undici();
    const { handler, calls } = caller();
    request(s, u, handler);
    if (afterResend) {
      answer(u.sent[0]!.handler, 401, headers);
      await expect.poll(() => u.sent.length).toBe(2);
    }
    answer(u.sent.at(-1)!.handler, status, headers);
    expect(calls).toEqual([['start'], ['response', status], ['data'], ['end']]);
    expect(u.sent).toHaveLength(afterResend ? 2 : 1);
  });

  it('a body it cannot send again (a stream): the 401 goes to the caller', () => {
    const { source: s, state } = source();
    const u = undici();
    const { handler, calls } = caller();
    request(s, u, handler, { body: (async function* () {})() as unknown as string });
    answer(u.sent[0]!.handler, 401, { 'www-authenticate': 'Bearer' });
    expect(calls).toContainEqual(['response', 401]);
    expect(state.invalidated).toEqual([]);
  });

  it('refusals paused (invalidate says no): the 401 goes to the caller', () => {
    const paused: TokenSource = { ...source().source, invalidate: () => false };
    const u = undici();
    const { handler, calls } = caller();
    request(paused, u, handler);
    answer(u.sent[0]!.handler, 401, { 'www-authenticate': 'Bearer' });
    expect(calls).toContainEqual(['response', 401]);
    expect(u.sent).toHaveLength(1);
  });

  it.each([401, 400])(
    'DPoP: a %i use_dpop_nonce with a new nonce gets one resend with it, then a 401 for the token one more',
    async (status) => {
      const dpop = new DPoP(true);
      const { source: s, state } = source({ tokenType: 'DPoP', dpop });
      const u = undici();
      const { handler, calls } = caller();
      request(s, u, handler, { headers: {} });
      await expect.poll(() => u.sent.length).toBe(1);
      answer(u.sent[0]!.handler, status, { 'www-authenticate': 'DPoP error="use_dpop_nonce"', 'dpop-nonce': 'n-1' });
      await expect.poll(() => u.sent.length).toBe(2);
      const second = u.sent[1]!.opts.headers as Record<string, string>;
      expect(payloadOf(second.dpop!)).toMatchObject({ nonce: 'n-1' });

      // After a token resend, a nonce request may be answered once more.
      answer(u.sent[1]!.handler, 401, { 'www-authenticate': 'DPoP error="invalid_token"' });
      await expect.poll(() => u.sent.length).toBe(3);
      answer(u.sent[2]!.handler, 401, { 'www-authenticate': 'DPoP error="use_dpop_nonce"', 'dpop-nonce': 'n-2' });
      await expect.poll(() => u.sent.length).toBe(4);
      expect(payloadOf((u.sent[3]!.opts.headers as Record<string, string>).dpop!)).toMatchObject({ nonce: 'n-2' });
      answer(u.sent[3]!.handler, 401, { 'www-authenticate': 'DPoP error="use_dpop_nonce"', 'dpop-nonce': 'n-3' });

      expect(state.invalidated).toEqual(['tok-1']);
      expect(calls).toEqual([['start'], ['response', 401], ['data'], ['end']]);
      expect(u.sent).toHaveLength(4);
    },
  );

  it('DPoP: a nonce request with the nonce the proof already carried is not resent', async () => {
    const dpop = new DPoP(true);
    const { source: s } = source({ tokenType: 'DPoP', dpop });
    const u = undici();
    const { handler, calls } = caller();
    request(s, u, handler, { headers: {} });
    await expect.poll(() => u.sent.length).toBe(1);
    answer(u.sent[0]!.handler, 401, { 'www-authenticate': 'DPoP error="use_dpop_nonce"', 'dpop-nonce': 'n-1' });
    await expect.poll(() => u.sent.length).toBe(2);
    answer(u.sent[1]!.handler, 401, { 'www-authenticate': 'DPoP error="use_dpop_nonce"', 'dpop-nonce': 'n-1' });
    expect(calls).toContainEqual(['response', 401]);
    expect(u.sent).toHaveLength(2);
  });
});

describe('aborts and failures', () => {
  it('an abort in the caller’s onRequestStart: nothing is dispatched, and the caller gets the reason', () => {
    const { source: s } = source();
    const u = undici();
    const reason = new Error('gave up');
    const { handler, calls } = caller((c) => c.abort(reason));
    expect(request(s, u, handler)).toBe(true);
    expect(u.sent).toEqual([]);
    expect(calls).toEqual([['start'], ['error', reason]]);
  });

  it('an abort while the token is awaited: the wait ends, nothing is dispatched when the token comes', async () => {
    const { source: s, state } = source({ cached: false });
    let release = () => {};
    state.hold = new Promise<void>((resolve) => {
      release = resolve;
    });
    const u = undici();
    let abort: (reason: Error) => void = () => {};
    const { handler, calls } = caller((c) => {
      abort = (reason) => c.abort(reason);
    });
    request(s, u, handler);
    await expect.poll(() => state.gets).toBe(1);
    const reason = new Error('timed out');
    abort(reason);
    await flush();
    expect(calls).toEqual([['start'], ['error', reason]]);
    release();
    await flush();
    expect(u.sent).toEqual([]);
  });

  it('an abort during an attempt goes to that attempt’s controller', () => {
    const { source: s } = source();
    const u = undici();
    let abort: (reason: Error) => void = () => {};
    const { handler } = caller((c) => {
      abort = (reason) => c.abort(reason);
    });
    request(s, u, handler);
    const c = undiciController();
    u.sent[0]!.handler.onRequestStart?.(c, {});
    const reason = new Error('gave up');
    abort(reason);
    expect(c.calls).toEqual([['abort', reason]]);
  });

  it('the caller’s onRequestStart throwing, or a token that cannot be had, fails the request with that error', async () => {
    const thrown = new Error('handler bug');
    const first = caller(() => {
      throw thrown;
    });
    expect(request(source().source, undici(), first.handler)).toBe(true);
    expect(first.calls).toEqual([['start'], ['error', thrown]]);

    const failing: TokenSource = { ...source({ cached: false }).source, get: () => Promise.reject('no token') };
    const second = caller();
    const u = undici();
    request(failing, u, second.handler);
    await flush();
    expect(second.calls).toEqual([['start'], ['error', new Error('no token')]]);
    expect(u.sent).toEqual([]);
  });

  it('a caller speaking undici’s first API too: an abort before the attempt connects reaches the attempt when it does', () => {
    const { source: s } = source();
    const u = undici();
    const calls: unknown[][] = [];
    let abort: (reason?: Error) => void = () => {};
    const handler = {
      onRequestStart() {},
      onConnect: (a: (reason?: Error) => void) => {
        abort = a;
      },
      onHeaders: () => true,
      onData: () => true,
      onComplete: () => calls.push(['complete']),
      onError: (error: Error) => calls.push(['error', error]),
    };
    request(s, u, handler as unknown as Dispatcher.DispatchHandler);
    abort();
    const attempt = u.sent[0]!.handler as unknown as { onConnect(abort: (reason?: Error) => void): void };
    const aborted: unknown[] = [];
    attempt.onConnect((reason) => aborted.push(reason));
    expect(aborted).toEqual([undefined]);

    // Aborted (without a reason) as it started: nothing is dispatched, and undici's caller hears of it.
    const errors: string[] = [];
    const abortsAtOnce = { ...handler, onConnect: (a: (reason?: Error) => void) => a(), onError: (e: Error) => errors.push(e.message) };
    const v = undici();
    request(s, v, abortsAtOnce as unknown as Dispatcher.DispatchHandler);
    expect(v.sent).toEqual([]);
    expect(errors).toEqual(['aborted']);
  });
});
