import { http, HttpResponse } from 'msw';
import { afterEach, beforeEach, expect, vi } from 'vitest';
import { ClientCredentialsClient, type ClientCredentialsOptions } from '../../src/index.js';
import { withTimeout } from '../../src/util/abort.js';
import { TOKEN_URL, type SeenRequest } from './msw.js';

/** A distinctive client secret: no error, log or serialisation may ever contain it. */
export const SECRET = 'zq-S3CRET-must-never-leak-9f4e';

/** An access token value that is easy to grep for. */
export const leakyToken = (n: number | string) => `AT-must-never-leak-${n}`;

export interface Deferred<T> {
  readonly promise: Promise<T>;
  resolve(value: T): void;
  reject(error: unknown): void;
}

export function deferred<T = void>(): Deferred<T> {
  let resolve!: (value: T) => void;
  let reject!: (error: unknown) => void;
  const promise = new Promise<T>((res, rej) => {
    resolve = res;
    reject = rej;
  });
  return { promise, resolve, reject };
}

/** Lets pending I/O and promise callbacks run (a few macrotask turns). */
export async function settleIo(turns = 5): Promise<void> {
  for (let i = 0; i < turns; i++) await new Promise<void>((resolve) => setImmediate(resolve));
}

/** The state of a promise after letting pending work run: settled or still pending. */
export async function stateOf<T>(promise: Promise<T>): Promise<'pending' | 'fulfilled' | 'rejected'> {
  let state: 'pending' | 'fulfilled' | 'rejected' = 'pending';
  promise.then(
    () => (state = 'fulfilled'),
    () => (state = 'rejected'),
  );
  await settleIo();
  return state;
}

/** Resolves with `promise`, or rejects when it has not settled within `ms` real milliseconds. */
export function within<T>(promise: Promise<T>, ms = 2000): Promise<T> {
  return withTimeout(promise, ms, () => new Error(`did not settle within ${ms} ms`));
}

/** The rejection of `promise` (fails if it fulfils). */
export async function rejectionOf(promise: Promise<unknown>): Promise<any> {
  try {
    await promise;
  } catch (error) {
    return error;
  }
  throw new Error('expected the promise to reject, but it fulfilled');
}

/** A JSON token response (`expiresIn: null` leaves `expires_in` out). */
export function tokenJson(accessToken: string, expiresIn: number | string | null = 3600, more: Record<string, unknown> = {}) {
  return HttpResponse.json({
    access_token: accessToken,
    token_type: 'Bearer',
    ...(expiresIn === null ? {} : { expires_in: expiresIn }),
    ...more,
  });
}

/** Options of a test client: any option, where `undefined` means "not set" (also for a default). */
export type TestClientOptions = { [K in keyof ClientCredentialsOptions]?: ClientCredentialsOptions[K] | undefined };

/** The default options of {@link useClients}: token endpoint {@link TOKEN_URL}, client `svc-a` with {@link SECRET}, no retries. */
export const TEST_CLIENT: Partial<ClientCredentialsOptions> = {
  tokenEndpoint: TOKEN_URL,
  clientId: 'svc-a',
  clientSecret: SECRET,
  retry: false,
};

/**
 * The client factory of a test file: each client gets `defaults` overridden by the options given, and
 * every client made is closed after each test (on real timers). `useClients({})` adds no defaults.
 */
export function useClients(defaults: TestClientOptions = TEST_CLIENT): (options?: TestClientOptions) => ClientCredentialsClient {
  const clients: ClientCredentialsClient[] = [];
  afterEach(async () => {
    vi.useRealTimers();
    await Promise.all(clients.splice(0).map((c) => c.close()));
  });
  return (options = {}) => {
    const merged: Record<string, unknown> = { ...defaults };
    // A key given as undefined means "not set" here (the client refuses present-but-undefined credentials).
    for (const [key, value] of Object.entries(options)) {
      if (value === undefined) delete merged[key];
      else merged[key] = value;
    }
    const client = new ClientCredentialsClient(merged as unknown as ClientCredentialsOptions);
    clients.push(client);
    return client;
  };
}

/** One request held by {@link heldEndpoint}. */
export interface HeldRequest extends SeenRequest {
  /** `Date.now()` when the handler saw the request. */
  readonly at: number;
  /** Sends the answer (by default a bearer token `tok-<n>` valid for an hour). */
  respond(response?: Response): void;
  /** Whether the client abandoned the request (its signal aborted). */
  readonly aborted: boolean;
}

/**
 * A token endpoint whose answers are held until the test releases them, to observe what callers get
 * while a request is in flight. `arrived(n)` resolves once the n-th request (1-based) has been seen.
 */
export function heldEndpoint(url = TOKEN_URL) {
  const requests: HeldRequest[] = [];
  const waiters = new Map<number, Deferred<HeldRequest>>();
  const waiter = (n: number) => {
    let d = waiters.get(n);
    if (d === undefined) {
      d = deferred<HeldRequest>();
      waiters.set(n, d);
    }
    return d;
  };
  const handler = http.post(url, async ({ request }) => {
    const answer = deferred<Response>();
    const n = requests.length + 1;
    const held: HeldRequest = {
      headers: request.headers,
      method: request.method,
      form: new URLSearchParams(await request.text()),
      at: Date.now(),
      respond: (response = tokenJson(`tok-${n}`)) => answer.resolve(response),
      get aborted() {
        return request.signal.aborted;
      },
    };
    requests.push(held);
    // An abandoned request (timeout, close) must not keep the handler pending forever.
    request.signal.addEventListener('abort', () => answer.resolve(HttpResponse.error()), { once: true });
    waiter(n).resolve(held);
    return answer.promise;
  });
  return {
    handler,
    requests,
    /** Resolves with the n-th request once it has arrived (fails after 2 s). */
    arrived: (n: number) => within(waiter(n).promise, 2000),
  };
}

/**
 * A `fetch` option that forwards to the global `fetch` (so msw answers) and reads each body itself.
 * `calls` counts requests the moment the client starts them (no waiting for msw to see them);
 * `delivered` counts responses handed to the client: once it has grown, only promise callbacks remain
 * between the response and the client acting on it.
 */
export function deliveringFetch() {
  const state = { calls: 0, delivered: 0 };
  const fetch: typeof globalThis.fetch = async (input, init) => {
    state.calls++;
    const response = await globalThis.fetch(input, init);
    const body = await response.arrayBuffer();
    state.delivered++;
    return new Response(body, { status: response.status, statusText: response.statusText, headers: response.headers });
  };
  return { fetch, state };
}

/**
 * Fakes the clocks the client reads — `Date` and `performance` (its monotonic clock) — but not its
 * timers: msw, sockets and the client's timeouts keep running on real time. Install before creating
 * the client.
 */
export function fakeClocks(now: number): void {
  vi.useFakeTimers({ toFake: ['Date', 'performance'], now });
}

/**
 * Moves both faked clocks forward to `t` (epoch ms), as time passing does. (`vi.setSystemTime` alone is
 * a step of the wall clock, which the client's expiry rightly ignores.)
 */
export function advanceTo(t: number): void {
  const by = t - Date.now();
  if (by < 0) throw new Error('advanceTo moves time forward only');
  vi.advanceTimersByTime(by);
}

/** Records the process warnings of each test (`MaxListenersExceededWarning` and the like). */
export function useProcessWarnings(): () => Error[] {
  let warnings: Error[] = [];
  const onWarning = (warning: Error) => warnings.push(warning);
  beforeEach(() => {
    warnings = [];
    process.on('warning', onWarning);
  });
  afterEach(() => {
    process.off('warning', onWarning);
  });
  return () => warnings;
}

/** The `TypeError` that `create` throws (fails when it throws nothing, or something else). */
export function typeErrorOf(create: () => unknown): TypeError {
  try {
    create();
  } catch (error) {
    expect(error).toBeInstanceOf(TypeError);
    return error as TypeError;
  }
  throw new Error('expected a TypeError, but nothing was thrown');
}
