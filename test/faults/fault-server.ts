/**
 * A loopback token server (127.0.0.1, ephemeral port) that misbehaves on command, for the fault
 * injection suite. Each request is answered by the current {@link Behavior}; behaviours reach the raw
 * socket, so HTTP framing can be broken (resets, truncation, stalls, trickles, oversized bodies). The
 * server records what it observed: requests, when each connection closed, how many bytes it managed to
 * write and whether a response was written to the end.
 */
import { once } from 'node:events';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import { runInNewContext } from 'node:vm';
import { setFlagsFromString } from 'node:v8';
import { afterAll, afterEach, beforeAll, expect } from 'vitest';
import { ClientCredentialsClient, type ClientCredentialsOptions } from '../../src/index.js';
import { sleep } from '../helpers/time.js';

/** What one request saw, from the server's side. */
export interface Observed {
  /** Index of the request, from 0. */
  readonly n: number;
  readonly path: string;
  /** `Date.now()` when the request (with its body) was read. */
  readonly at: number;
  readonly body: string;
  /** Set when the connection closed. */
  closedAt: number | undefined;
  /** Bytes of the response body the behaviour handed to the socket (for streaming behaviours). */
  bodyBytesWritten: number;
  /** The behaviour wrote its whole response. */
  completed: boolean;
}

export interface Ctx {
  readonly req: IncomingMessage;
  readonly res: ServerResponse;
  readonly socket: Socket;
  readonly observed: Observed;
  readonly server: FaultServer;
}

/** Answers one request. May return a promise; errors are swallowed (the peer may be gone). */
export type Behavior = (ctx: Ctx) => void | Promise<void>;

export class FaultServer {
  readonly #server: Server;
  readonly #sockets = new Set<Socket>();
  /** The requests each connection carried. */
  readonly #carried = new WeakMap<Socket, Observed[]>();
  #port = 0;
  #up = false;
  /** Behaviours used once each, in order, before {@link behavior}. */
  readonly queue: Behavior[] = [];
  /** The behaviour once the queue is empty. */
  behavior: Behavior;
  readonly requests: Observed[] = [];
  /** Timers of streaming behaviours, cleared on close. */
  readonly timers = new Set<NodeJS.Timeout>();

  constructor(behavior: Behavior = token()) {
    this.behavior = behavior;
    this.#server = createServer({ keepAliveTimeout: 60_000 }, (req, res) => this.#handle(req, res));
    this.#server.on('connection', (socket: Socket) => {
      this.#sockets.add(socket);
      // One listener per connection (not per request: keep-alive connections carry many).
      const carried: Observed[] = [];
      this.#carried.set(socket, carried);
      socket.on('close', () => {
        this.#sockets.delete(socket);
        const now = Date.now();
        for (const observed of carried) observed.closedAt = now;
      });
      // A reset from the client is expected in these tests; it must not crash the server.
      socket.on('error', () => {});
    });
    this.#server.on('clientError', (_error, socket) => socket.destroy());
  }

  static async start(behavior?: Behavior): Promise<FaultServer> {
    const server = new FaultServer(behavior);
    await server.up();
    return server;
  }

  get port(): number {
    return this.#port;
  }

  get url(): string {
    return `http://127.0.0.1:${this.#port}/token`;
  }

  /** Starts listening: on an ephemeral port the first time, on the same port afterwards. */
  async up(): Promise<void> {
    if (this.#up) return;
    this.#server.listen(this.#port, '127.0.0.1');
    await once(this.#server, 'listening');
    this.#port = (this.#server.address() as AddressInfo).port;
    this.#up = true;
  }

  /** The port is closed and every connection reset: clients get ECONNREFUSED / ECONNRESET. */
  async down(): Promise<void> {
    if (!this.#up) return;
    this.#up = false;
    const closed = new Promise<void>((resolve) => this.#server.close(() => resolve()));
    for (const socket of this.#sockets) socket.resetAndDestroy();
    await closed;
  }

  async close(): Promise<void> {
    for (const timer of this.timers) clearTimeout(timer);
    this.timers.clear();
    await this.down();
  }

  /** Open connections (from this server's side). */
  get connections(): number {
    return this.#sockets.size;
  }

  /** setTimeout that {@link close} clears. */
  later(ms: number, fn: () => void): void {
    const timer = setTimeout(() => {
      this.timers.delete(timer);
      fn();
    }, ms);
    this.timers.add(timer);
  }

  #handle(req: IncomingMessage, res: ServerResponse): void {
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => {
      const observed: Observed = {
        n: this.requests.length,
        path: new URL(req.url ?? '/', 'http://x').pathname,
        at: Date.now(),
        body: Buffer.concat(chunks).toString('utf8'),
        closedAt: undefined,
        bodyBytesWritten: 0,
        completed: false,
      };
      this.requests.push(observed);
      const socket = req.socket;
      this.#carried.get(socket)?.push(observed);
      const behavior = this.queue.shift() ?? this.behavior;
      Promise.resolve()
        .then(() => behavior({ req, res, socket, observed, server: this }))
        .catch(() => {});
    });
  }
}

/* ----------------------------------------------------------------------------------------------- */
/* Behaviours                                                                                       */

let issued = 0;

/** A successful token response; `expiresIn` in seconds. Tokens are `tok-<n>`, unique per process. */
export function token(expiresIn = 3600, onIssue?: (accessToken: string, ctx: Ctx) => void): Behavior {
  return (ctx) => {
    const accessToken = `tok-${++issued}-${ctx.observed.n}`;
    onIssue?.(accessToken, ctx);
    json(200, { access_token: accessToken, token_type: 'Bearer', expires_in: expiresIn })(ctx);
  };
}

/** A complete response with a JSON body. */
export function json(status: number, body: unknown, headers: Record<string, string> = {}): Behavior {
  return raw(status, JSON.stringify(body), { 'content-type': 'application/json', ...headers });
}

/** A complete response with this exact body (valid HTTP framing). */
export function raw(status: number, body: string, headers: Record<string, string> = {}): Behavior {
  return ({ res, observed }) => {
    res.writeHead(status, { 'cache-control': 'no-store', ...headers, 'content-length': Buffer.byteLength(body) });
    res.end(body, () => (observed.completed = true));
    observed.bodyBytesWritten = Buffer.byteLength(body);
  };
}

/** TCP reset as soon as the request is read: no response byte at all. */
export const resetBeforeResponse: Behavior = ({ socket }) => {
  socket.resetAndDestroy();
};

/** A clean close (FIN) as soon as the request is read: no response byte at all. */
export const closeBeforeResponse: Behavior = ({ socket }) => {
  socket.destroy();
};

/**
 * Headers and part of the body (content-length promises more), then a TCP reset (`'reset'`) or a
 * plain close (`'close'`, truncating the HTTP framing).
 */
export function partialThen(how: 'reset' | 'close'): Behavior {
  return ({ res, socket, observed, server }) => {
    const body = '{"access_token":"partial-';
    res.writeHead(200, { 'content-type': 'application/json', 'content-length': '200' });
    res.write(body);
    observed.bodyBytesWritten = body.length;
    server.later(30, () => (how === 'reset' ? socket.resetAndDestroy() : socket.destroy()));
  };
}

/** Not HTTP at all (another protocol on the port): bytes that no HTTP parser accepts. */
export const notHttp: Behavior = ({ socket }) => {
  socket.write('SSH-2.0-OpenSSH_9.6\r\n');
};

/** The status line and headers one byte every `intervalMs`, never finishing the header block. */
export function slowHeaders(intervalMs = 100): Behavior {
  return ({ socket, server }) => {
    const head = 'HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncache-control: no-store\r\n';
    let i = 0;
    const step = () => {
      if (socket.destroyed || i >= head.length) return;
      socket.write(head[i++]!);
      server.later(intervalMs, step);
    };
    step();
  };
}

/** Accepts the request and never answers. */
export const hang: Behavior = () => {};

/** Headers, a few bytes of body, then nothing. */
export const stalledBody: Behavior = ({ res, observed }) => {
  res.writeHead(200, { 'content-type': 'application/json', 'content-length': '120' });
  res.write('{"access_');
  observed.bodyBytesWritten = 9;
};

/** A valid token response, one byte every `intervalMs` (chunked, so nothing tells its length). */
export function trickle(intervalMs = 1000): Behavior {
  return ({ res, socket, observed, server }) => {
    const body = JSON.stringify({ access_token: 'trickled-token', token_type: 'Bearer', expires_in: 3600 });
    res.writeHead(200, { 'content-type': 'application/json' });
    res.flushHeaders();
    let i = 0;
    const step = () => {
      if (socket.destroyed) return;
      if (i === body.length) {
        res.end(() => (observed.completed = true));
        return;
      }
      res.write(body[i++]);
      observed.bodyBytesWritten = i;
      server.later(intervalMs, step);
    };
    step();
  };
}

/**
 * A `size`-byte JSON-looking body written in 64 KiB chunks with backpressure (a client that stops
 * reading stops the writer), with or without a `content-length`.
 */
export function huge(size: number, withContentLength: boolean): Behavior {
  return async ({ res, socket, observed }) => {
    const chunk = Buffer.alloc(64 * 1024, 0x20); // spaces: still "valid JSON whitespace" until the end
    res.writeHead(200, { 'content-type': 'application/json', ...(withContentLength ? { 'content-length': String(size) } : {}) });
    let written = 0;
    while (written < size) {
      if (socket.destroyed || res.destroyed) return;
      const part = chunk.subarray(0, Math.min(chunk.length, size - written));
      written += part.length;
      observed.bodyBytesWritten = written;
      if (!res.write(part)) {
        const drained = await new Promise<boolean>((resolve) => {
          const onDrain = () => done(true);
          const onClose = () => done(false);
          const done = (value: boolean) => {
            res.off('drain', onDrain);
            socket.off('close', onClose);
            resolve(value);
          };
          res.on('drain', onDrain);
          socket.on('close', onClose);
        });
        if (!drained) return;
      }
    }
    res.end(() => (observed.completed = true));
  };
}

/* ----------------------------------------------------------------------------------------------- */
/* Test support                                                                                     */

/**
 * The documented worst case of one `getToken()` (README, Errors): `timeout × (retries + 1)` plus the
 * delays between attempts, each at most `maxDelay`.
 */
export function worstCase({ timeout, retry }: { timeout: number; retry: { retries: number; maxDelay: number } }): number {
  return timeout * (retry.retries + 1) + retry.retries * retry.maxDelay;
}

/**
 * Slack on top of {@link worstCase}: this is a correctness bound (no hang, no ignored limit), not a
 * speed benchmark, and other suites may share the two cores.
 */
export const SLACK = 2_000;

/** Records `unhandledRejection`s and `MaxListenersExceededWarning`s while installed. */
export function recordProcessTrouble() {
  const rejections: unknown[] = [];
  const warnings: Error[] = [];
  const onRejection = (reason: unknown) => rejections.push(reason);
  const onWarning = (warning: Error) => {
    if (warning.name === 'MaxListenersExceededWarning') warnings.push(warning);
  };
  return {
    rejections,
    warnings,
    install() {
      process.on('unhandledRejection', onRejection);
      process.on('warning', onWarning);
    },
    uninstall() {
      process.off('unhandledRejection', onRejection);
      process.off('warning', onWarning);
    },
  };
}

/** Lets pending I/O, promise callbacks and unhandled-rejection detection run. */
export async function settle(ms = 20): Promise<void> {
  for (let i = 0; i < 3; i++) await new Promise<void>((resolve) => setImmediate(resolve));
  await sleep(ms);
  for (let i = 0; i < 3; i++) await new Promise<void>((resolve) => setImmediate(resolve));
}

/** The rejection of `promise`, with how long it took (fails if it fulfils). */
export async function timedRejection(promise: () => Promise<unknown>): Promise<{ error: any; elapsed: number }> {
  const started = Date.now();
  try {
    await promise();
  } catch (error) {
    return { error, elapsed: Date.now() - started };
  }
  throw new Error('expected a rejection, but the promise fulfilled');
}

/** `global.gc`, made available without restarting node with --expose-gc. */
export function gc(): () => void {
  const existing = (globalThis as { gc?: () => void }).gc;
  if (existing) return existing;
  setFlagsFromString('--expose-gc');
  return runInNewContext('gc') as () => void;
}

/** Ref'ed timers currently keeping the process alive (`process.getActiveResourcesInfo()`). */
export function activeTimers(): number {
  return process.getActiveResourcesInfo().filter((r) => r === 'Timeout').length;
}

/** Options every fault test starts from: small timeouts, two retries, short delays. */
export const FAST = { timeout: 300, retry: { retries: 2, minDelay: 10, maxDelay: 200 } } as const;

/**
 * Per test file: records unhandled rejections (and listener-leak warnings) for the whole file; after
 * each test closes the clients and servers it made, lets pending work settle and asserts nothing was
 * recorded.
 */
export function useFaultHarness() {
  const trouble = recordProcessTrouble();
  const clients: ClientCredentialsClient[] = [];
  const servers: { close(): Promise<void> }[] = [];
  beforeAll(() => trouble.install());
  afterEach(async () => {
    await Promise.all(clients.splice(0).map((c) => c.close()));
    await Promise.all(servers.splice(0).map((s) => s.close()));
    await settle();
    expect(trouble.rejections, 'unhandled rejections').toEqual([]);
    expect(trouble.warnings.map(String), 'listener leak warnings').toEqual([]);
  });
  afterAll(() => trouble.uninstall());
  return {
    trouble,
    /** A fault server closed after the test. */
    async server(behavior?: Behavior): Promise<FaultServer> {
      const server = await FaultServer.start(behavior);
      servers.push(server);
      return server;
    },
    /** Registers anything with `close()` to be closed after the test. */
    closeLater<T extends { close(): Promise<void> }>(thing: T): T {
      servers.push(thing);
      return thing;
    },
    /** A client of `server` closed after the test. */
    client(server: FaultServer | string, options: Partial<ClientCredentialsOptions> = {}): ClientCredentialsClient {
      const client = new ClientCredentialsClient({
        tokenEndpoint: typeof server === 'string' ? server : server.url,
        clientId: 'svc-faults',
        clientSecret: 'faults-secret',
        ...options,
      });
      clients.push(client);
      return client;
    },
  };
}
