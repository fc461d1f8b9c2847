/**
 * Real `redis-server` processes (standalone and a 3-node Cluster) and a real token endpoint for the
 * token store tests. Everything listens on 127.0.0.1 only, on ports the OS picks; every wait is
 * bounded; everything started is stopped by `stop()` (call it from `afterAll`, it never throws).
 */
import { type ChildProcess, execFile, spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import http from 'node:http';
import { createServer, connect, type AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { inject } from 'vitest';
import type { RedisBinaries } from '../setup/redis-binaries.js';
import { waitUntil } from './time.js';

/** Where `redis-server` and `redis-cli` are: found, or installed, by the global setup (test/setup/redis-server.ts). */
function redisBinaries(): RedisBinaries {
  const binaries = inject('redisBinaries');
  if (binaries === undefined) throw new Error('no redis-server path: test/setup/redis-server.ts must be a globalSetup in vitest.config.ts');
  return binaries;
}

/** A TCP port that was free on 127.0.0.1 a moment ago. */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.unref();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as AddressInfo;
      server.close(() => resolve(port));
    });
  });
}

/** Sends one inline command over a fresh connection; resolves with the raw reply (or rejects), within `ms`. */
export function rawCommand(port: number, command: string, ms = 500): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = connect({ host: '127.0.0.1', port });
    let reply = '';
    const timer = setTimeout(() => finish(new Error(`no reply to ${command} within ${ms} ms`)), ms);
    const finish = (error?: Error) => {
      clearTimeout(timer);
      socket.destroy();
      if (error) reject(error);
      else resolve(reply);
    };
    socket.setEncoding('utf8');
    socket.once('error', (error) => finish(error));
    socket.on('connect', () => socket.write(`${command}\r\n`));
    socket.on('data', (chunk: string) => {
      reply += chunk;
      // A simple reply ends with CRLF; a bulk reply ($<len>) once its announced length has arrived.
      const bulk = /^\$(\d+)\r\n/.exec(reply);
      if (bulk ? reply.length >= bulk[0].length + Number(bulk[1]) + 2 : reply.endsWith('\r\n')) finish();
    });
  });
}

/** Waits (bounded) for a child process to exit; true if it did. */
function exited(child: ChildProcess, ms: number): Promise<boolean> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve(true);
  return new Promise((resolve) => {
    const timer = setTimeout(() => resolve(false), ms);
    child.once('exit', () => {
      clearTimeout(timer);
      resolve(true);
    });
  });
}

/** Kills a child (SIGKILL) and waits, bounded, for it to be gone. Never throws. */
export async function killChild(child: ChildProcess | undefined, ms = 3000): Promise<void> {
  if (child === undefined || child.exitCode !== null || child.signalCode !== null) return;
  try {
    child.kill('SIGKILL');
  } catch {
    // already gone
  }
  await exited(child, ms);
}

/** One standalone `redis-server` on 127.0.0.1, no persistence. Restartable on the same port. */
export class RedisServer {
  #child: ChildProcess | undefined;
  #stderr = '';

  private constructor(readonly port: number) {}

  /** Starts a server on a free port (a few tries, in case the port was taken in between). */
  static async start(): Promise<RedisServer> {
    let lastError: unknown;
    for (let attempt = 0; attempt < 3; attempt++) {
      const server = new RedisServer(await freePort());
      try {
        await server.restart();
        return server;
      } catch (error) {
        lastError = error;
        await server.stop();
      }
    }
    throw lastError;
  }

  get url(): string {
    return `redis://127.0.0.1:${this.port}`;
  }

  get running(): boolean {
    return this.#child !== undefined && this.#child.exitCode === null && this.#child.signalCode === null;
  }

  /** (Re)starts the server on its port and waits until it answers PING (bounded). */
  async restart(): Promise<void> {
    if (this.running) return;
    this.#stderr = '';
    const child = spawn(
      redisBinaries().server,
      ['--port', String(this.port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', '--loglevel', 'warning'],
      {
        stdio: ['ignore', 'pipe', 'pipe'],
      },
    );
    child.stdout!.on('data', (chunk: Buffer) => (this.#stderr += chunk.toString()));
    child.stderr!.on('data', (chunk: Buffer) => (this.#stderr += chunk.toString()));
    this.#child = child;
    try {
      await waitUntil(
        async () => {
          if (!this.running) throw new Error('exited');
          return (await rawCommand(this.port, 'PING')).startsWith('+PONG');
        },
        { what: `redis-server on port ${this.port} to answer PING`, interval: 50 },
      );
    } catch (error) {
      await killChild(child);
      throw new Error(`redis-server did not start on port ${this.port}: ${(error as Error).message}\n${this.#stderr}`);
    }
  }

  /** Kills the server (SIGKILL: an outage, not a shutdown) and waits until it is gone. */
  async stop(): Promise<void> {
    await killChild(this.#child);
  }
}

/** A Redis Cluster of three masters (no replicas) on 127.0.0.1, each with its own cluster bus port. */
export class RedisCluster {
  readonly #children: ChildProcess[] = [];
  readonly #dir = mkdtempSync(join(tmpdir(), 'm2m-redis-cluster-'));
  ports: number[] = [];

  static async start(): Promise<RedisCluster> {
    const cluster = new RedisCluster();
    try {
      await cluster.#start();
      return cluster;
    } catch (error) {
      await cluster.stop();
      throw error;
    }
  }

  get nodes(): { host: string; port: number }[] {
    return this.ports.map((port) => ({ host: '127.0.0.1', port }));
  }

  async #start(): Promise<void> {
    const binaries = redisBinaries();
    const ports = new Set<number>();
    while (ports.size < 6) ports.add(await freePort());
    const [p1, p2, p3, b1, b2, b3] = [...ports] as [number, number, number, number, number, number];
    this.ports = [p1, p2, p3];
    const buses = [b1, b2, b3];
    this.ports.forEach((port, i) => {
      const child = spawn(
        binaries.server,
        [
          '--port',
          String(port),
          '--cluster-port',
          String(buses[i]),
          '--bind',
          '127.0.0.1',
          '--cluster-enabled',
          'yes',
          '--cluster-config-file',
          join(this.#dir, `nodes-${port}.conf`),
          '--dir',
          this.#dir,
          '--save',
          '',
          '--appendonly',
          'no',
          '--loglevel',
          'warning',
        ],
        { stdio: 'ignore' },
      );
      this.#children.push(child);
    });
    for (const port of this.ports) {
      await waitUntil(async () => (await rawCommand(port, 'PING')).startsWith('+PONG'), {
        what: `cluster node ${port} to answer PING`,
        interval: 50,
      });
    }
    await new Promise<void>((resolve, reject) => {
      execFile(
        binaries.cli,
        ['--cluster', 'create', ...this.ports.map((p) => `127.0.0.1:${p}`), '--cluster-replicas', '0', '--cluster-yes'],
        { timeout: 15_000 },
        (error, stdout, stderr) =>
          error ? reject(new Error(`redis-cli --cluster create failed: ${error.message}\n${stdout}\n${stderr}`)) : resolve(),
      );
    });
    for (const port of this.ports) {
      await waitUntil(async () => (await rawCommand(port, 'CLUSTER INFO')).includes('cluster_state:ok'), {
        what: `cluster_state:ok on ${port}`,
        timeout: 10_000,
        interval: 50,
      });
    }
  }

  async stop(): Promise<void> {
    await Promise.all(this.#children.map((child) => killChild(child)));
    rmSync(this.#dir, { recursive: true, force: true });
  }
}

/** A token endpoint request as the test server saw it. */
export interface TokenRequest {
  readonly n: number;
  readonly at: number;
  /** The `x-fleet-worker` header: which worker process sent it. */
  readonly worker: string | undefined;
  readonly body: string;
  readonly authorization: string | undefined;
}

export interface TokenServerOptions {
  /** `expires_in` of every token, in seconds. */
  expiresIn?: number;
  /** Delay before answering, in ms. */
  delay?: number;
  /** Return true to never answer request `n` (the client gives up or dies; the socket is then closed). */
  hold?: (request: TokenRequest) => boolean;
  /** Another answer than a token for a request (a 429 storm), or undefined for the usual token. */
  reply?: (request: TokenRequest) => { status: number; headers?: Record<string, string>; body?: string } | undefined;
  /** Extra members of every token response (for example `refresh_in`). */
  extra?: Record<string, unknown>;
}

/**
 * A real token endpoint (node:http, 127.0.0.1, free port) that counts requests and issues `fleet-tok-<n>`.
 * Also answers `POST /revoke` (counted in `revocations`).
 */
export async function startTokenServer(options: TokenServerOptions = {}) {
  const requests: TokenRequest[] = [];
  const revocations: string[] = [];
  const listeners = new Set<(request: TokenRequest) => void>();
  const server = http.createServer((req, res) => {
    let body = '';
    req.setEncoding('utf8');
    req.on('data', (chunk: string) => (body += chunk));
    req.on('end', () => {
      if (req.url === '/revoke') {
        revocations.push(new URLSearchParams(body).get('token') ?? '');
        res.writeHead(200).end();
        return;
      }
      const worker = req.headers['x-fleet-worker'];
      const request: TokenRequest = {
        n: requests.length + 1,
        at: Date.now(),
        worker: typeof worker === 'string' ? worker : undefined,
        body,
        authorization: req.headers.authorization,
      };
      requests.push(request);
      for (const listener of listeners) listener(request);
      if (options.hold?.(request)) return; // never answered; closed when the client goes away or at stop()
      const other = options.reply?.(request);
      const answer = () =>
        other !== undefined
          ? res.writeHead(other.status, { 'content-type': 'application/json', ...other.headers }).end(other.body ?? '{"error":"slow_down"}')
          : res.writeHead(200, { 'content-type': 'application/json', 'cache-control': 'no-store' }).end(
              JSON.stringify({
                access_token: `fleet-tok-${request.n}`,
                token_type: 'Bearer',
                expires_in: options.expiresIn ?? 3600,
                ...options.extra,
              }),
            );
      if (options.delay) setTimeout(answer, options.delay);
      else answer();
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    port,
    tokenEndpoint: `http://127.0.0.1:${port}/token`,
    revocationEndpoint: `http://127.0.0.1:${port}/revoke`,
    requests,
    revocations,
    /** Resolves with the first request (from now on, or already seen) matching `match`; rejects after `ms`. */
    next(match: (request: TokenRequest) => boolean, ms = 10_000): Promise<TokenRequest> {
      const seen = requests.find(match);
      if (seen) return Promise.resolve(seen);
      return new Promise((resolve, reject) => {
        const timer = setTimeout(() => {
          listeners.delete(listener);
          reject(new Error(`no matching token request within ${ms} ms`));
        }, ms);
        const listener = (request: TokenRequest) => {
          if (!match(request)) return;
          clearTimeout(timer);
          listeners.delete(listener);
          resolve(request);
        };
        listeners.add(listener);
      });
    },
    close(): Promise<void> {
      server.closeAllConnections();
      return new Promise((resolve) => server.close(() => resolve()));
    },
  };
}

export type TokenServer = Awaited<ReturnType<typeof startTokenServer>>;
