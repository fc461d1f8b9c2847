/**
 * One attempt of a request through the undici interceptor, in both of undici's handler APIs: what reaches
 * the caller's handler, what is swallowed for a resend, and where aborts, pauses and resumes go. The
 * interceptor as a whole, over real connections: test/integration/undici*.test.ts.
 */
import type { IncomingHttpHeaders } from 'node:http';
import type { Dispatcher } from 'undici';
import { describe, expect, it } from 'vitest';
import {
  Attempt,
  type AttemptOwner,
  AttemptsController,
  type LegacyHandler,
  LegacyAttempt,
  speaksLegacy,
} from '../../src/fetch/undici-attempts.js';
import { createToken } from '../../src/token.js';
import { undiciController } from './support.js';

const token = createToken({ accessToken: 'tok-1', tokenType: 'Bearer', expiresAt: Date.UTC(2030, 0, 1), extra: {} });

/** An owner that swallows (answers with a resend) when `swallow` says so, recording what it was asked. */
function owner(swallow = false) {
  const seen = { attached: [] as ((reason?: Error) => void)[], resends: 0, asked: [] as unknown[][] };
  const it: AttemptOwner = {
    attach: (abort) => seen.attached.push(abort),
    swallows: (status, headers, t, proof) => {
      seen.asked.push([status, headers.header('www-authenticate'), t, proof]);
      return swallow;
    },
    resend: () => {
      seen.resends++;
    },
  };
  return { owner: it, seen };
}

/** A handler recording every call as [method, ...arguments], returning `answer` where undici expects a boolean. */
function recorder<T extends object>(methods: readonly string[], answer = false): { handler: T; calls: unknown[][] } {
  const calls: unknown[][] = [];
  const handler = Object.fromEntries(
    methods.map((m) => [
      m,
      (...args: unknown[]) => {
        calls.push([m, ...args]);
        return answer;
      },
    ]),
  ) as T;
  return { handler, calls };
}

const LEGACY = ['onConnect', 'onResponseStarted', 'onUpgrade', 'onHeaders', 'onData', 'onComplete', 'onError'];
const CURRENT = ['onRequestStart', 'onRequestUpgrade', 'onResponseStart', 'onResponseData', 'onResponseEnd', 'onResponseError'];

describe('speaksLegacy', () => {
  it('is true for a handler with all five methods of the first API, false when any one is missing', () => {
    const methods = ['onConnect', 'onHeaders', 'onData', 'onComplete', 'onError'];
    const full = Object.fromEntries(methods.map((m) => [m, () => {}]));
    expect(speaksLegacy(full)).toBe(true);
    for (const missing of methods) {
      expect(speaksLegacy({ ...full, [missing]: undefined }), missing).toBe(false);
      expect(speaksLegacy({ ...full, [missing]: true }), missing).toBe(false);
    }
    expect(speaksLegacy({ onRequestStart() {}, onResponseStart() {} })).toBe(false);
  });
});

describe('LegacyAttempt', () => {
  function legacy(swallow = false, answer = false) {
    const o = owner(swallow);
    const caller = recorder<LegacyHandler>(LEGACY, answer);
    return { attempt: new LegacyAttempt(o.owner, caller.handler, token, 'proof-1'), seen: o.seen, calls: caller.calls };
  }

  it('reads a response header from raw headers as undici decodes them: any case, repeats joined, latin1', () => {
    const { attempt } = legacy();
    const resume = () => {};
    attempt.onHeaders(
      401,
      [
        Buffer.from('WWW-Authenticate'),
        Buffer.from('Bearer error="invalid_token"'),
        'www-authenticatE',
        [Buffer.from('DPoP a'), Buffer.from('DPoP b')] as unknown as Buffer,
        'www-authenticat',
        'not this one',
        'xww-authenticate',
        'nor this one',
        'Content-Type',
        Buffer.from([0x63, 0x61, 0x66, 0xe9]),
        'www-authenticate',
      ],
      resume,
      'Unauthorized',
    );
    expect(attempt.header('www-authenticate')).toBe('Bearer error="invalid_token", DPoP a, DPoP b');
    expect(attempt.header('content-type')).toBe('café');
    expect(attempt.header('dpop-nonce')).toBeNull();
  });

  it('a response that is not swallowed goes to the caller as it came, told as started first', () => {
    const { attempt, seen, calls } = legacy(false, true);
    const resume = () => {};
    const headers = ['WWW-Authenticate', 'Bearer'];

    expect(attempt.onHeaders(401, headers, resume, 'Unauthorized')).toBe(true);
    expect(attempt.onData(Buffer.from('body'))).toBe(true);
    attempt.onComplete(['x-trailer', '1']);

    expect(seen.asked).toEqual([[401, 'Bearer', token, 'proof-1']]);
    expect(calls).toEqual([
      ['onResponseStarted'],
      ['onHeaders', 401, headers, resume, 'Unauthorized'],
      ['onData', Buffer.from('body')],
      ['onComplete', ['x-trailer', '1']],
    ]);
    expect(seen.resends).toBe(0);
  });

  it('passes on the caller’s backpressure: onHeaders and onData answer what the caller answered', () => {
    const { attempt } = legacy(false, false);
    expect(attempt.onHeaders(200, [], () => {}, 'OK')).toBe(false);
    expect(attempt.onData(Buffer.from('x'))).toBe(false);
  });

  it('a swallowed response reaches the caller not at all, is read to its end, and its end sends again', () => {
    const { attempt, seen, calls } = legacy(true);

    expect(attempt.onHeaders(401, ['www-authenticate', 'Bearer error="invalid_token"'], () => {}, 'Unauthorized')).toBe(true);
    expect(attempt.onData(Buffer.from('refused'))).toBe(true);
    attempt.onComplete(null);

    expect(calls).toEqual([]);
    expect(seen.resends).toBe(1);
  });

  it('connecting attaches its abort to the owner; upgrades and errors go to the caller', () => {
    const { attempt, seen, calls } = legacy();
    const abort = () => {};
    const socket = {} as import('node:stream').Duplex;
    const error = new Error('reset');

    attempt.onConnect(abort);
    attempt.onUpgrade(101, ['upgrade', 'websocket'], socket);
    attempt.onError(error);

    expect(seen.attached).toEqual([abort]);
    expect(calls).toEqual([
      ['onUpgrade', 101, ['upgrade', 'websocket'], socket],
      ['onError', error],
    ]);
  });

  it('a caller without the optional methods: an upgrade and a delivered response pass without them', () => {
    const o = owner();
    const caller = recorder<LegacyHandler>(['onConnect', 'onHeaders', 'onData', 'onComplete', 'onError'], true);
    const attempt = new LegacyAttempt(o.owner, caller.handler, token, undefined);
    attempt.onUpgrade(101, [], {} as import('node:stream').Duplex);
    expect(attempt.onHeaders(200, [], () => {}, 'OK')).toBe(true);
    expect(caller.calls.map((c) => c[0])).toEqual(['onHeaders']);
  });
});

describe('AttemptsController', () => {
  it('an abort before any attempt goes to onAbort, and the attempt attached later is aborted with that first reason', () => {
    const aborts: Error[] = [];
    const controller = new AttemptsController((reason) => aborts.push(reason));
    const first = new Error('first');
    controller.abort(first);
    expect(aborts).toEqual([first]);
    expect([controller.aborted, controller.reason]).toEqual([true, first]);

    controller.abort(new Error('second'));
    const attempt = undiciController();
    controller.attach(attempt);

    expect(attempt.calls).toEqual([['abort', first]]);
    expect(controller.reason).toBe(first);
  });

  it('an abort during an attempt goes to that attempt, not to onAbort', () => {
    const aborts: Error[] = [];
    const controller = new AttemptsController((reason) => aborts.push(reason));
    const attempt = undiciController();
    controller.attach(attempt);
    const reason = new Error('caller gave up');
    controller.abort(reason);
    expect(attempt.calls).toEqual([['abort', reason]]);
    expect(aborts).toEqual([]);
  });

  it('a pause before an attempt holds the attempt attached later; resume lets it go; both pass to the attempt in progress', () => {
    const controller = new AttemptsController(() => {});
    controller.pause();
    expect(controller.paused).toBe(true);
    const first = undiciController();
    controller.attach(first);
    expect(first.calls).toEqual([['pause']]);

    controller.resume();
    expect(first.calls).toEqual([['pause'], ['resume']]);
    expect(controller.paused).toBe(false);

    const second = undiciController();
    controller.attach(second);
    expect(second.calls).toEqual([]);
  });

  it('reads as the attempt in progress when it has no state of its own, and as not aborted, not paused, no reason without one', () => {
    const controller = new AttemptsController(() => {});
    expect([controller.aborted, controller.paused, controller.reason]).toEqual([false, false, null]);
    const attempt = undiciController();
    controller.attach(attempt);
    const reason = new Error('socket closed');
    Object.assign(attempt, { aborted: true, paused: true, reason });
    expect([controller.aborted, controller.paused, controller.reason]).toEqual([true, true, reason]);
  });
});

describe('Attempt', () => {
  function current(swallow = false) {
    const o = owner(swallow);
    const caller = recorder<Dispatcher.DispatchHandler>(CURRENT);
    const controller = new AttemptsController(() => {});
    return { attempt: new Attempt(o.owner, caller.handler, controller, token, 'proof-2'), controller, seen: o.seen, calls: caller.calls };
  }

  it('a response that is not swallowed goes to the caller with the stable controller, not the attempt’s', () => {
    const { attempt, controller, seen, calls } = current();
    const own = undiciController();
    // Repeated, as undici gives a header it received more than once.
    const headers = { 'www-authenticate': ['DPoP a', 'DPoP b'] } as unknown as IncomingHttpHeaders;

    attempt.onRequestStart(own);
    attempt.onResponseStart(own, 401, headers, 'Unauthorized');
    attempt.onResponseData(own, Buffer.from('body'));
    attempt.onResponseEnd(own, { 'x-trailer': '1' });

    expect(controller.target).toBe(own);
    expect(seen.asked).toEqual([[401, 'DPoP a, DPoP b', token, 'proof-2']]);
    expect(calls).toEqual([
      ['onResponseStart', controller, 401, headers, 'Unauthorized'],
      ['onResponseData', controller, Buffer.from('body')],
      ['onResponseEnd', controller, { 'x-trailer': '1' }],
    ]);
    expect(seen.resends).toBe(0);
  });

  it('reads single, repeated and absent headers', () => {
    const { attempt } = current();
    attempt.onResponseStart(undiciController(), 200, { 'dpop-nonce': 'n-1', 'set-cookie': ['a=1', 'b=2'] });
    expect([attempt.header('dpop-nonce'), attempt.header('set-cookie'), attempt.header('www-authenticate')]).toEqual([
      'n-1',
      'a=1, b=2',
      null,
    ]);
  });

  it('a swallowed response reaches the caller not at all, and its end sends again', () => {
    const { attempt, seen, calls } = current(true);
    const own = undiciController();
    attempt.onResponseStart(own, 401, { 'www-authenticate': 'Bearer error="invalid_token"' });
    attempt.onResponseData(own, Buffer.from('refused'));
    attempt.onResponseEnd(own, {});
    expect(calls).toEqual([]);
    expect(seen.resends).toBe(1);
  });

  it('upgrades and errors go to the caller with the stable controller; a caller without them is skipped', () => {
    const { attempt, controller, calls } = current();
    const socket = {} as import('node:stream').Duplex;
    const error = new Error('reset');
    attempt.onRequestUpgrade(undiciController(), 101, { upgrade: 'websocket' }, socket);
    attempt.onResponseError(undiciController(), error);
    expect(calls).toEqual([
      ['onRequestUpgrade', controller, 101, { upgrade: 'websocket' }, socket],
      ['onResponseError', controller, error],
    ]);

    const bare = new Attempt(owner().owner, {}, new AttemptsController(() => {}), token, undefined);
    bare.onRequestUpgrade(undiciController(), 101, {}, socket);
    bare.onResponseStart(undiciController(), 200, {});
    bare.onResponseData(undiciController(), Buffer.from('x'));
    bare.onResponseEnd(undiciController(), {});
    bare.onResponseError(undiciController(), error);
  });
});
