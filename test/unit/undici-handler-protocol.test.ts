/**
 * What the caller's handler sees through the m2m-token/undici interceptor, in both of undici's handler
 * APIs, with a fake inner dispatcher that records the handler of each attempt and drives it as undici
 * would: a swallowed 401 is invisible, backpressure (pause, `onData() === false`, `resume`) and
 * trailers pass through, an abort without a reason stays one (undici then makes its own error).
 */
import type { Dispatcher } from 'undici';
import { describe, expect, it } from 'vitest';
import type { TokenSource } from '../../src/fetch/authorized-fetch.js';
import { undiciInterceptor } from '../../src/fetch/undici-interceptor.js';
import { createToken, type HeldToken } from '../../src/token.js';

const ORIGIN = 'http://api.test';
const STALE = [Buffer.from('www-authenticate'), Buffer.from('Bearer error="invalid_token"')];

/** A token source whose current token the test replaces; `get` waits while there is none. */
function tokens() {
  const make = (value: string) => createToken({ accessToken: value, tokenType: 'Bearer', expiresAt: Date.now() + 3_600_000, extra: {} });
  let current: HeldToken | undefined = make('t1');
  let waiting: ((token: HeldToken) => void) | undefined;
  const source: TokenSource = {
    get: () => (current !== undefined ? Promise.resolve(current) : new Promise((resolve) => (waiting = resolve))),
    peek: () => current,
    invalidate: (token) => {
      if (token === current) current = undefined;
      return true;
    },
  };
  return {
    source,
    issue(value: string) {
      current = make(value);
      waiting?.(current);
    },
  };
}

/** Runs the interceptor over a fake dispatch; returns the handlers of the attempts it dispatched. */
function intercept(source: TokenSource, handler: object, origin: string | URL = ORIGIN, headers?: unknown) {
  const attempts: { opts: Dispatcher.DispatchOptions; handler: Record<string, (...args: never[]) => unknown> }[] = [];
  const dispatch = ((opts: Dispatcher.DispatchOptions, attempt: never) => {
    attempts.push({ opts, handler: attempt });
    return true;
  }) as unknown as Dispatcher.Dispatch;
  undiciInterceptor(source, new Set([ORIGIN]))(dispatch)(
    { origin, path: '/orders', method: 'GET', headers: headers as never },
    handler as never,
  );
  return attempts;
}

/** A caller's handler in undici's first API (as undici's wrapper around `request` offers it), recording calls. */
function legacyCaller(onData: () => boolean = () => true) {
  const calls: unknown[][] = [];
  const record =
    (name: string, result?: unknown) =>
    (...args: unknown[]) => {
      calls.push([name, ...args]);
      return result;
    };
  const handler = {
    onRequestStart: record('onRequestStart'),
    onConnect: record('onConnect'),
    onResponseStarted: record('onResponseStarted'),
    onHeaders: record('onHeaders', true),
    onData: (...args: unknown[]) => {
      calls.push(['onData', ...args]);
      return onData();
    },
    onComplete: record('onComplete'),
    onError: record('onError'),
  };
  return { calls, handler };
}

describe('first handler API (onConnect, onHeaders, …)', () => {
  it('a 401 answered by a resend is never seen: one onResponseStarted, the 200 headers, its completion', async () => {
    const { source, issue } = tokens();
    const { calls, handler } = legacyCaller();
    const attempts = intercept(source, handler);
    const first = attempts[0]!.handler;
    first.onConnect!((() => {}) as never);
    first.onResponseStarted?.();
    first.onHeaders!(401 as never, STALE as never, (() => {}) as never, 'Unauthorized' as never);
    first.onData!(Buffer.from('denied') as never);
    first.onComplete!([] as never);
    issue('t2');
    await new Promise((resolve) => setImmediate(resolve));
    const second = attempts[1]!.handler;
    second.onConnect!((() => {}) as never);
    second.onResponseStarted?.();
    second.onHeaders!(200 as never, [] as never, (() => {}) as never, 'OK' as never);
    second.onComplete!([] as never);

    expect(calls.map((c) => (c[0] === 'onHeaders' ? `onHeaders ${c[1]}` : c[0]))).toEqual([
      'onConnect',
      'onResponseStarted',
      'onHeaders 200',
      'onComplete',
    ]);
    expect(attempts.map((a) => (a.opts.headers as Record<string, string>).authorization)).toEqual(['Bearer t1', 'Bearer t2']);
  });

  it("backpressure and trailers pass through: onData's false reaches undici, undici's resume and trailers reach the caller", () => {
    const { source } = tokens();
    const { calls, handler } = legacyCaller(() => false);
    const [attempt] = intercept(source, handler);
    const resume = () => {};
    const trailers = [Buffer.from('x-checksum'), Buffer.from('abc')];
    attempt!.handler.onConnect!((() => {}) as never);
    attempt!.handler.onHeaders!(200 as never, [] as never, resume as never, 'OK' as never);

    expect(attempt!.handler.onData!(Buffer.from('chunk') as never)).toBe(false);
    attempt!.handler.onComplete!(trailers as never);
    expect(calls.find((c) => c[0] === 'onHeaders')![3]).toBe(resume);
    expect(calls.find((c) => c[0] === 'onComplete')![1]).toBe(trailers);
  });

  it('an abort without a reason reaches the attempt without one (undici then makes its RequestAbortedError)', () => {
    const { source } = tokens();
    const { calls, handler } = legacyCaller();
    const [attempt] = intercept(source, handler);
    const aborts: unknown[][] = [];
    attempt!.handler.onConnect!(((...args: unknown[]) => aborts.push(args)) as never);
    const callerAbort = calls.find((c) => c[0] === 'onConnect')![1] as (reason?: Error) => void;
    callerAbort();

    expect(aborts).toEqual([[undefined]]);
  });
});

describe('onRequestStart API', () => {
  it("the caller's pause and resume reach the attempt's controller, and trailers reach the caller", () => {
    const { source } = tokens();
    const seen: unknown[][] = [];
    let controller: Dispatcher.DispatchController | undefined;
    const handler = {
      onRequestStart: (c: Dispatcher.DispatchController) => {
        controller = c;
      },
      onResponseStart: () => controller!.pause(),
      onResponseData: () => {},
      onResponseEnd: (_c: unknown, trailers: unknown) => seen.push(['end', trailers]),
      onResponseError: (_c: unknown, error: unknown) => seen.push(['error', error]),
    };
    const [attempt] = intercept(source, handler);
    const inner = {
      paused: false,
      aborted: false,
      reason: null,
      pause: () => seen.push(['pause']),
      resume: () => seen.push(['resume']),
      abort: (reason: unknown) => seen.push(['abort', reason]),
    };
    attempt!.handler.onRequestStart!(inner as never);
    attempt!.handler.onResponseStart!(inner as never, 200 as never, {} as never, 'OK' as never);
    controller!.resume();
    const trailers = { 'x-checksum': 'abc' };
    attempt!.handler.onResponseEnd!(inner as never, trailers as never);

    expect(seen).toEqual([['pause'], ['resume'], ['end', trailers]]);
  });
});

describe('origins', () => {
  const authorizationOf = (origin: string | URL) => {
    const [attempt] = intercept(tokens().source, legacyCaller().handler, origin);
    return (attempt!.opts.headers as Record<string, string> | undefined)?.authorization;
  };

  it('an origin in another form undici may pass (a URL, upper case, a trailing slash) is matched after normalising', () => {
    expect(authorizationOf(ORIGIN)).toBe('Bearer t1');
    expect(authorizationOf(new URL(ORIGIN))).toBe('Bearer t1');
    expect(authorizationOf('HTTP://API.TEST')).toBe('Bearer t1');
    expect(authorizationOf(`${ORIGIN}/`)).toBe('Bearer t1');
  });

  it('any other origin passes through untouched: no token', () => {
    for (const other of [
      'http://api.test.evil.example',
      'https://api.test',
      'http://api.test:8080',
      'http://evil.example/http://api.test',
    ]) {
      expect(authorizationOf(other), other).toBeUndefined();
    }
  });
});

describe("the caller's headers", () => {
  const sent = (headers: unknown) => intercept(tokens().source, legacyCaller().handler, ORIGIN, headers)[0]!.opts.headers;

  it('a flat list stays a flat list, without our headers or undefined values, ours appended', () => {
    expect(sent(['x-a', '1', 'Authorization', 'Basic x', 'x-b', undefined, 'DPoP', 'p', 'x-c', '3'])).toStrictEqual([
      'x-a',
      '1',
      'x-c',
      '3',
      'authorization',
      'Bearer t1',
    ]);
    expect(sent([])).toStrictEqual(['authorization', 'Bearer t1']);
  });

  it('an object stays an object, values as given; pairs (a Map, Headers-like) become one, repeated names merged', () => {
    expect(sent({ 'x-n': 1, AUTHORIZATION: 'Basic x', 'x-u': undefined, 'x-l': ['a', 'b'] })).toStrictEqual({
      'x-n': 1,
      'x-l': ['a', 'b'],
      authorization: 'Bearer t1',
    });
    expect(
      sent([
        ['x-a', '1'],
        ['x-a', '2'],
        ['dpop', 'p'],
        ['x-u', undefined],
      ]),
    ).toStrictEqual({ 'x-a': ['1', '2'], authorization: 'Bearer t1' });
    expect(sent(undefined)).toStrictEqual({ authorization: 'Bearer t1' });
  });
});
