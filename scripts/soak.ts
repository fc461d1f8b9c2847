/**
 * `npm run soak`: a bounded soak of the client under sustained concurrency (not part of `npm test`).
 *
 * A separate process (this file with `--servers`) runs a loopback token server that issues 1-second
 * tokens after a small delay, and a loopback resource server that accepts only tokens it issued and
 * only until they expire (401 otherwise). This process runs thousands of concurrent loops of
 * `getToken()` and of the authorized `client.fetch`, each bounded by the deadline and a call count,
 * then reports and checks the invariants:
 *
 * - failures seen by callers: 0 (any rejection, any non-200 other than a 401);
 * - 401s seen by callers: 0;
 * - token requests = rotations ± 1: within the range the refresh schedule allows for the elapsed time,
 *   and equal (+0/+1) to the distinct tokens callers were handed: no duplicate or wasted refreshes;
 * - heap after a forced GC: no more than `SOAK_MAX_HEAP_GROWTH_MB` (default 32) above the start.
 *
 * Exits 1 if an invariant fails, 2 if the run overran its own deadline.
 *
 * Environment: SOAK_SECONDS (default 60), SOAK_LOOPS (default 2000 concurrent loops), SOAK_FETCH_LOOPS
 * (default 50 of them call `client.fetch`, the rest `getToken()`), SOAK_TOKEN_DELAY_MS (default 20).
 *
 * Why only 50 fetch loops: each is a real HTTP round trip to the loopback resource server, and a closed
 * loop's latency is its queue length over the throughput. A 1-second token is handed out until 100 ms
 * before it expires (the margin is a tenth of short lifetimes), so a fetch queue longer than that makes
 * tokens expire in transit: the soak would measure queueing on two shared cores, not the client.
 *
 * Node flags: `tsx --expose-gc scripts/soak.ts` (tsx passes node flags through); without the flag the
 * script enables `gc` itself (v8.setFlagsFromString).
 */
import { fork, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { monitorEventLoopDelay, performance } from 'node:perf_hooks';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { ClientCredentialsClient, TokenError } from '../src/index.js';

const TOKEN_LIFETIME_S = 1;

interface ServerStats {
  tokenRequests: number;
  issued: number;
  resourceOk: number;
  resourceUnknown: number;
  resourceExpired: number;
}

type FromServers = { type: 'ready'; tokenUrl: string; resourceUrl: string } | { type: 'stats'; stats: ServerStats };

/* ------------------------------------------------------------------------------------------------ */
/* The servers' process                                                                              */

async function runServers(): Promise<void> {
  const delay = Number(process.env.SOAK_TOKEN_DELAY_MS ?? 20);
  const expiries = new Map<string, number>();
  const stats: ServerStats = { tokenRequests: 0, issued: 0, resourceOk: 0, resourceUnknown: 0, resourceExpired: 0 };
  const listen = async (server: Server) => {
    server.keepAliveTimeout = 30_000;
    server.listen(0, '127.0.0.1');
    await once(server, 'listening');
    return `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  };

  const tokenServer = createServer((req, res) => {
    req.resume();
    req.on('end', () => {
      stats.tokenRequests++;
      setTimeout(() => {
        const accessToken = `soak-${stats.issued++}-${Math.random().toString(36).slice(2)}`;
        expiries.set(accessToken, Date.now() + TOKEN_LIFETIME_S * 1000);
        const body = JSON.stringify({ access_token: accessToken, token_type: 'Bearer', expires_in: TOKEN_LIFETIME_S });
        res.writeHead(200, { 'content-type': 'application/json', 'cache-control': 'no-store', 'content-length': Buffer.byteLength(body) });
        res.end(body);
      }, delay);
    });
  });

  const resourceServer = createServer((req, res) => {
    req.resume();
    const token = /^Bearer (.+)$/.exec(req.headers.authorization ?? '')?.[1];
    const expiry = token === undefined ? undefined : expiries.get(token);
    if (expiry === undefined || Date.now() >= expiry) {
      if (expiry === undefined) stats.resourceUnknown++;
      else stats.resourceExpired++;
      res.writeHead(401, { 'www-authenticate': 'Bearer error="invalid_token"', 'content-length': 0 }).end();
      return;
    }
    stats.resourceOk++;
    res.writeHead(200, { 'content-type': 'text/plain', 'content-length': 2 }).end('ok');
  });

  const tokenUrl = `${await listen(tokenServer)}/token`;
  const resourceUrl = `${await listen(resourceServer)}/orders`;
  // Forget long-expired tokens now and then (they are unknown afterwards, which is also a 401).
  const sweeper = setInterval(() => {
    const cutoff = Date.now() - 60_000;
    for (const [token, expiry] of expiries) if (expiry < cutoff) expiries.delete(token);
  }, 10_000);

  process.on('message', (message: { type: string }) => {
    if (message.type === 'stats') process.send!({ type: 'stats', stats } satisfies FromServers);
    if (message.type === 'stop') {
      clearInterval(sweeper);
      tokenServer.closeAllConnections();
      resourceServer.closeAllConnections();
      tokenServer.close();
      resourceServer.close();
      process.disconnect();
    }
  });
  // The parent gone (crashed, killed): stop too.
  process.on('disconnect', () => process.exit(0));
  process.send!({ type: 'ready', tokenUrl, resourceUrl } satisfies FromServers);
}

/* ------------------------------------------------------------------------------------------------ */
/* The client's process                                                                              */

/** Latencies in µs, in log buckets 1 % wide (percentiles accurate to 1 %), with the exact maximum. */
class Histogram {
  static readonly #RATIO = Math.log(1.01);
  readonly #buckets = new Float64Array(2_500);
  count = 0;
  max = 0;

  record(micros: number): void {
    const index = micros <= 1 ? 0 : Math.min(this.#buckets.length - 1, Math.ceil(Math.log(micros) / Histogram.#RATIO));
    this.#buckets[index]!++;
    this.count++;
    if (micros > this.max) this.max = micros;
  }

  percentile(p: number): number {
    const rank = Math.ceil((p / 100) * this.count);
    let seen = 0;
    for (let i = 0; i < this.#buckets.length; i++) {
      seen += this.#buckets[i]!;
      if (seen >= rank && seen > 0) return Math.min(this.max, Math.exp(i * Histogram.#RATIO));
    }
    return this.max;
  }
}

function forcedGc(): () => void {
  const existing = (globalThis as { gc?: () => void }).gc;
  if (existing) return existing;
  setFlagsFromString('--expose-gc'); // when not started with --expose-gc
  return runInNewContext('gc') as () => void;
}

function heapAfterGc(gc: () => void): number {
  for (let i = 0; i < 3; i++) gc();
  return process.memoryUsage().heapUsed;
}

const mb = (bytes: number) => `${(bytes / 1024 / 1024).toFixed(1)} MB`;
const ms = (micros: number) => (micros < 1000 ? `${(micros / 1000).toFixed(3)} ms` : `${(micros / 1000).toFixed(1)} ms`);

async function startServers(): Promise<{ child: ChildProcess; tokenUrl: string; resourceUrl: string; stats(): Promise<ServerStats> }> {
  const child = fork(fileURLToPath(import.meta.url), ['--servers'], { stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
  const [ready] = (await once(child, 'message')) as [FromServers];
  if (ready.type !== 'ready') throw new Error('the servers did not start');
  return {
    child,
    tokenUrl: ready.tokenUrl,
    resourceUrl: ready.resourceUrl,
    async stats() {
      child.send({ type: 'stats' });
      for (;;) {
        const [message] = (await once(child, 'message')) as [FromServers];
        if (message.type === 'stats') return message.stats;
      }
    },
  };
}

async function runSoak(): Promise<number> {
  const seconds = Number(process.env.SOAK_SECONDS ?? 60);
  const loops = Number(process.env.SOAK_LOOPS ?? 2_000);
  const fetchLoops = Number(process.env.SOAK_FETCH_LOOPS ?? 50);
  const maxHeapGrowth = Number(process.env.SOAK_MAX_HEAP_GROWTH_MB ?? 32) * 1024 * 1024;
  if (!(seconds > 0) || !Number.isInteger(loops) || !Number.isInteger(fetchLoops) || !(fetchLoops >= 0 && fetchLoops <= loops)) {
    console.error('soak: SOAK_SECONDS > 0 and integers 0 ≤ SOAK_FETCH_LOOPS ≤ SOAK_LOOPS, please');
    return 1;
  }
  const tokenLoops = loops - fetchLoops;
  // No loop makes more calls than this, whatever the speed of the machine.
  const MAX_CALLS_PER_LOOP = 10_000_000;
  // The run must be over by the deadline plus this; otherwise something hangs: exit 2.
  const OVERRUN_MS = 30_000;

  const gc = forcedGc();
  const servers = await startServers();
  const watchdog = setTimeout(
    () => {
      console.error(`soak: still running ${OVERRUN_MS / 1000} s after its deadline: something hangs`);
      servers.child.kill();
      process.exit(2);
    },
    (seconds * 1000 + OVERRUN_MS) | 0,
  );
  watchdog.unref();

  const client = new ClientCredentialsClient({ tokenEndpoint: servers.tokenUrl, clientId: 'soak', clientSecret: 'soak-secret' });
  const options = { refreshRatio: 0.8, refreshJitter: 0.05, expiryMargin: 30_000 }; // the defaults, for the schedule below
  let clientTokenEvents = 0;
  client.on('token', () => clientTokenEvents++);
  const backgroundErrors: string[] = [];
  client.on('error', (e) => backgroundErrors.push(`${e.operation} ${e.error.code}: ${e.error.message}`));

  // Warm up (first token, JIT), then the baseline.
  const distinctTokens = new Set<string>([(await client.getToken()).accessToken]);
  await (await client.fetch(servers.resourceUrl)).text();
  const heapBefore = heapAfterGc(gc);

  const tokenLatency = new Histogram();
  const fetchLatency = new Histogram();
  const failures = new Map<string, number>();
  const fail = (what: string) => failures.set(what, (failures.get(what) ?? 0) + 1);
  let tokenCalls = 0;
  let fetchCalls = 0;
  let callerUnauthorized = 0;
  const lag = monitorEventLoopDelay({ resolution: 10 });
  lag.enable();

  const started = Date.now();
  const deadline = started + seconds * 1000;
  const pause = () => sleep(1 + Math.floor(Math.random() * 5)); // the tiny delay between calls

  const tokenLoop = async () => {
    for (let n = 0; n < MAX_CALLS_PER_LOOP && Date.now() < deadline; n++) {
      const t = performance.now();
      try {
        const token = await client.getToken();
        tokenLatency.record((performance.now() - t) * 1000);
        distinctTokens.add(token.accessToken);
      } catch (error) {
        fail(`getToken: ${TokenError.is(error) ? error.code : String(error)}`);
      }
      tokenCalls++;
      await pause();
    }
  };
  const fetchLoop = async () => {
    for (let n = 0; n < MAX_CALLS_PER_LOOP && Date.now() < deadline; n++) {
      const t = performance.now();
      try {
        const res = await client.fetch(servers.resourceUrl);
        await res.arrayBuffer();
        fetchLatency.record((performance.now() - t) * 1000);
        if (res.status === 401) callerUnauthorized++;
        else if (res.status !== 200) fail(`fetch: HTTP ${res.status}`);
      } catch (error) {
        fail(`fetch: ${TokenError.is(error) ? error.code : String(error)}`);
      }
      fetchCalls++;
      await pause();
    }
  };

  console.log(`soak: ${seconds} s, ${loops} loops (${tokenLoops} getToken, ${fetchLoops} fetch), ${TOKEN_LIFETIME_S} s tokens…`);
  await Promise.all([...Array.from({ length: tokenLoops }, tokenLoop), ...Array.from({ length: fetchLoops }, fetchLoop)]);
  const elapsed = Date.now() - started;
  lag.disable();

  const stats = await servers.stats();
  await client.close();
  servers.child.send({ type: 'stop' });
  await once(servers.child, 'exit');
  clearTimeout(watchdog);
  const heapAfter = heapAfterGc(gc);

  // The refresh schedule (README, "How tokens are cached and rotated"): a token of lifetime L is handed
  // out until margin = min(expiryMargin, L/10) before expiry; a refresh starts with the first call after
  // sentAt + refreshRatio × (L − margin) − jitter, jitter ∈ [0, refreshJitter × L], and the next token's
  // sentAt is that moment. So consecutive token requests are at least (ratio × usable − refreshJitter × L)
  // apart, and on average at most ratio × usable plus the wait for the next call: the longest pause
  // between calls (5 ms) plus the event loop's delay (its mean + 2σ, measured).
  const lifetime = TOKEN_LIFETIME_S * 1000;
  const usable = lifetime - Math.min(options.expiryMargin, lifetime / 10);
  const minPeriod = options.refreshRatio * usable - options.refreshJitter * lifetime;
  const maxPeriod = options.refreshRatio * usable + 5 + (lag.mean + 2 * lag.stddev) / 1e6;
  // Token requests during the measured window: the one of the warm-up was before it.
  const requests = stats.tokenRequests - 1;
  const rotations = { min: Math.floor(elapsed / maxPeriod), max: Math.ceil(elapsed / minPeriod) };

  const invariants: [string, boolean][] = [
    ['failures seen by callers = 0', failures.size === 0],
    ['401s seen by callers = 0', callerUnauthorized === 0],
    [
      `token requests (${requests}) = rotations ± 1, rotations in [${rotations.min}, ${rotations.max}] for ${(elapsed / 1000).toFixed(1)} s`,
      requests >= rotations.min - 1 && requests <= rotations.max + 1,
    ],
    [
      `token requests (${stats.tokenRequests} in all) = distinct tokens handed out (${distinctTokens.size} in all) + 0/1`,
      stats.tokenRequests - distinctTokens.size >= 0 && stats.tokenRequests - distinctTokens.size <= 1,
    ],
    [`heap growth after GC ≤ ${mb(maxHeapGrowth)}`, heapAfter - heapBefore <= maxHeapGrowth],
  ];

  const lines = [
    '',
    '── m2m-token soak report ──',
    `duration            ${(elapsed / 1000).toFixed(1)} s, ${loops} concurrent loops (${tokenLoops} getToken, ${fetchLoops} client.fetch)`,
    `calls               ${tokenCalls + fetchCalls} (getToken ${tokenCalls}, fetch ${fetchCalls})`,
    `token requests      ${requests} during the run (+1 warm-up); server issued ${stats.issued}; client token events ${clientTokenEvents}`,
    `rotations expected  ${rotations.min}–${rotations.max} (period ${minPeriod.toFixed(0)}–${maxPeriod.toFixed(0)} ms); distinct tokens handed out ${distinctTokens.size} (with the warm-up's)`,
    `401s seen by callers ${callerUnauthorized} (at the resource server: ${stats.resourceExpired} expired + ${stats.resourceUnknown} unknown, before the wrapper's one retry)`,
    `failures            ${failures.size === 0 ? 0 : JSON.stringify(Object.fromEntries(failures))}`,
    `error events        ${backgroundErrors.length === 0 ? 0 : backgroundErrors.slice(0, 5).join('; ')}`,
    `heap (after GC)     before ${mb(heapBefore)}, after ${mb(heapAfter)} (${heapAfter >= heapBefore ? '+' : ''}${mb(heapAfter - heapBefore)})`,
    `getToken latency    p50 ${ms(tokenLatency.percentile(50))}, p99 ${ms(tokenLatency.percentile(99))}, max ${ms(tokenLatency.max)} (${tokenLatency.count} calls)`,
    `fetch latency       p50 ${ms(fetchLatency.percentile(50))}, p99 ${ms(fetchLatency.percentile(99))}, max ${ms(fetchLatency.max)} (${fetchLatency.count} calls)`,
    `event loop delay    p50 ${ms(lag.percentile(50) / 1000)}, p99 ${ms(lag.percentile(99) / 1000)}, max ${ms(lag.max / 1000)}`,
    'invariants:',
    ...invariants.map(([name, ok]) => `  ${ok ? 'ok  ' : 'FAIL'} ${name}`),
  ];
  console.log(lines.join('\n'));
  const failed = invariants.filter(([, ok]) => !ok).length;
  console.log(failed === 0 ? 'soak: all invariants hold' : `soak: ${failed} invariant(s) failed`);
  return failed === 0 ? 0 : 1;
}

/* ------------------------------------------------------------------------------------------------ */

// At the end: the classes and constants above must be initialised first.
if (process.argv.includes('--servers')) {
  await runServers();
} else {
  process.exitCode = await runSoak();
}
