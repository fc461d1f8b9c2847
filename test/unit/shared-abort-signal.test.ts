/**
 * One `AbortSignal` shared by many callers (a request-scoped signal passed down to every call, a
 * shutdown signal) waiting for one slow token request: the client adds at most one 'abort' listener
 * to it, however many callers wait — no `MaxListenersExceededWarning`, no O(N) listeners to scan — and
 * aborting it still ends every caller's wait with `ABORTED`.
 */
import { describe, expect, it } from 'vitest';
import { useMswServer } from '../helpers/msw.js';
import { heldEndpoint, rejectionOf, settleIo, useClients, useProcessWarnings, within } from '../helpers/core.js';

const server = useMswServer();
const makeClient = useClients();
const CALLERS = 20_000;

const processWarnings = useProcessWarnings();

/** A signal whose `addEventListener('abort', …)` calls are counted. */
function countedSignal() {
  const controller = new AbortController();
  const { signal } = controller;
  const counts = { abortListenersAdded: 0 };
  const add = signal.addEventListener.bind(signal);
  signal.addEventListener = ((type: string, ...rest: [never, never]) => {
    if (type === 'abort') counts.abortListenersAdded++;
    return add(type, ...rest);
  }) as typeof signal.addEventListener;
  return { controller, signal, counts };
}

const listenerWarnings = () =>
  processWarnings()
    .filter((w) => w.name === 'MaxListenersExceededWarning')
    .map((w) => w.message);

describe(`one AbortSignal shared by ${CALLERS} callers waiting for one slow token request`, () => {
  it('gets at most one abort listener from the client and causes no MaxListenersExceededWarning; every caller gets the token', async () => {
    const held = heldEndpoint();
    server.use(held.handler);
    const client = makeClient();
    const { signal, counts } = countedSignal();

    const calls = Array.from({ length: CALLERS }, () => client.getToken({ signal }));
    const request = await held.arrived(1);
    request.respond();
    const tokens = await within(Promise.all(calls), 15_000);
    await settleIo();

    expect(new Set(tokens.map((t) => t.accessToken))).toEqual(new Set(['tok-1']));
    expect(held.requests).toHaveLength(1);
    // Today: one listener per caller (20000) and a MaxListenersExceededWarning.
    expect(counts.abortListenersAdded).toBeLessThanOrEqual(1);
    expect(listenerWarnings()).toEqual([]);
  }, 30_000);

  it('aborting it ends every caller’s wait with ABORTED, still with at most one abort listener added', async () => {
    const held = heldEndpoint();
    server.use(held.handler);
    const client = makeClient();
    const { controller, signal, counts } = countedSignal();

    const calls = Array.from({ length: CALLERS }, () => client.getToken({ signal }));
    const request = await held.arrived(1);
    controller.abort(new Error('request cancelled'));
    const errors = await within(Promise.all(calls.map((c) => rejectionOf(c))), 15_000);
    await settleIo();
    request.respond();

    expect(new Set(errors.map((e) => e.code))).toEqual(new Set(['ABORTED']));
    expect(counts.abortListenersAdded).toBeLessThanOrEqual(1);
    expect(listenerWarnings()).toEqual([]);
  }, 30_000);
});
