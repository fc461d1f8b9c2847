/**
 * No stray timer or socket outlives a failure: a child process that hits hanging and stalling servers
 * (and closes a client mid-hang) exits by itself, and in-process the ref'ed timers
 * (`process.getActiveResourcesInfo()`) are back to what they were once the client is closed.
 */
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { TokenError } from '../../src/index.js';
import {
  FAST,
  SLACK,
  activeTimers,
  hang,
  json,
  settle,
  stalledBody,
  timedRejection,
  token,
  useFaultHarness,
  worstCase,
  FaultServer,
} from './fault-server.js';
import { waitUntil } from '../helpers/time.js';

const h = useFaultHarness();
const root = fileURLToPath(new URL('../..', import.meta.url));

interface ChildRun {
  readonly code: number | null;
  readonly signal: NodeJS.Signals | null;
  readonly stdout: string;
  readonly stderr: string;
  /** When the child printed its first line, and when it exited. */
  readonly printedAt: number;
  readonly exitedAt: number;
}

/** Runs a fixture with tsx; SIGKILLed after `limit` ms (the test's own bound, tsx start-up included). */
async function runChild(fixture: string, arg: string, limit = 25_000): Promise<ChildRun> {
  const child = spawn(`${root}node_modules/.bin/tsx`, [`test/faults/fixtures/${fixture}`, arg], {
    cwd: root,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  let printedAt = 0;
  child.stdout.on('data', (chunk: Buffer) => {
    stdout += chunk.toString();
    if (printedAt === 0 && stdout.includes('\n')) printedAt = Date.now();
  });
  child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  const killer = setTimeout(() => child.kill('SIGKILL'), limit);
  try {
    const [code, signal] = (await once(child, 'exit')) as [number | null, NodeJS.Signals | null];
    return { code, signal, stdout, stderr, printedAt, exitedAt: Date.now() };
  } finally {
    clearTimeout(killer);
  }
}

describe('child processes: a script that met a misbehaving token server', () => {
  // Both children run at once (they take a few seconds each, mostly tsx start-up and waiting); each
  // test below checks one. Their servers live for the whole describe.
  let hangServer: FaultServer;
  let joinServer: FaultServer;
  let hangRun: Promise<ChildRun>;
  let joinRun: Promise<ChildRun>;
  beforeAll(async () => {
    hangServer = await FaultServer.start((ctx) => (ctx.observed.path === '/stall' ? stalledBody(ctx) : hang(ctx)));
    joinServer = await FaultServer.start(token(2));
    joinServer.queue.push(token(2), json(503, { error: 'temporarily_unavailable' }, { 'retry-after': '3' }));
    hangRun = runChild('hang-child.ts', `http://127.0.0.1:${hangServer.port}`);
    joinRun = runChild('join-background-child.ts', joinServer.url);
    // Nothing may reject unobserved while the first test waits.
    hangRun.catch(() => {});
    joinRun.catch(() => {});
  });
  afterAll(async () => {
    await Promise.allSettled([hangRun, joinRun]);
    await Promise.all([hangServer?.close(), joinServer?.close()]);
  });

  it('TIMEOUT from a hang, TIMEOUT from a stalled body, CLOSED mid-hang, then it exits by itself, promptly', async () => {
    const run = await hangRun;
    expect({ code: run.code, signal: run.signal, stderr: run.stderr }).toEqual({ code: 0, signal: null, stderr: '' });
    expect(JSON.parse(run.stdout.trim())).toEqual({ hang: 'TIMEOUT', stall: 'TIMEOUT', closed: 'CLOSED' });
    // A stray ref'ed timer (the 60 s attempt timeout) or socket (the server keeps hanging connections
    // open for 60 s) would hold the process for a minute.
    expect(run.exitedAt - run.printedAt).toBeLessThan(3_000);
    // Every hanging connection was let go of by the child.
    await waitUntil(() => hangServer.requests.every((r) => r.closedAt !== undefined), { timeout: 2_000 });
    expect(hangServer.requests.length).toBeGreaterThanOrEqual(5); // 2 + 2 attempts, and the one closed
  }, 30_000);

  it('a caller that joins a background refresh waiting out Retry-After gets its token before the process exits', async () => {
    const run = await joinRun;
    // Exit code 13 is Node's "unsettled top-level await": the process ran out of things to do while the
    // caller was still waiting, because the refresh's retry delay was unref'ed.
    expect({ code: run.code, signal: run.signal, stderr: run.stderr }).toEqual({ code: 0, signal: null, stderr: '' });
    const result = JSON.parse(run.stdout.trim());
    expect(result.cached).toBe(result.first);
    expect(result.joined).toMatch(/^tok-/);
    expect(result.joined).not.toBe(result.first);
    const requests = joinServer.requests;
    expect(requests).toHaveLength(3); // the token, the 503, the retry after Retry-After
    expect(requests[2]!.at - requests[1]!.at).toBeGreaterThanOrEqual(3_000 - 2);
    // The scenario happened as intended: the caller joined while the refresh was waiting.
    expect(result.joinedAt).toBeGreaterThan(requests[1]!.at);
    expect(result.joinedAt).toBeLessThan(requests[2]!.at);
  }, 30_000);
});

describe('in-process: no ref’ed timer is left behind', () => {
  it('after TIMEOUTs from a hanging server and close()', async () => {
    const before = activeTimers();
    const server = await h.server(hang);
    const options = { ...FAST, retry: { ...FAST.retry, retries: 1 } };
    const client = h.client(server, options);
    const { error, elapsed } = await timedRejection(() => client.getToken());
    expect(error.code).toBe('TIMEOUT');
    expect(elapsed).toBeLessThanOrEqual(worstCase(options) + SLACK);
    await client.close();
    await settle();
    expect(activeTimers()).toBeLessThanOrEqual(before);
  });

  it('close() while an attempt with a 60 s timeout hangs: CLOSED at once, its timer cleared, the connection dropped', async () => {
    const before = activeTimers();
    const server = await h.server(hang);
    const client = h.client(server, { timeout: 60_000, retry: false });
    const pending = timedRejection(() => client.getToken());
    await waitUntil(() => server.requests.length === 1);
    await client.close();
    const { error, elapsed } = await pending;
    expect(error.code).toBe('CLOSED');
    expect(elapsed).toBeLessThan(SLACK);
    await waitUntil(() => server.requests[0]!.closedAt !== undefined, { timeout: 2_000 });
    await settle();
    expect(activeTimers()).toBeLessThanOrEqual(before);
  });

  it('close() while a retry waits out a long Retry-After: CLOSED at once, the delay timer cleared', async () => {
    const before = activeTimers();
    const server = await h.server(json(503, { error: 'temporarily_unavailable' }, { 'retry-after': '3600' }));
    const client = h.client(server, { timeout: 1_000, retry: { retries: 1, minDelay: 10, maxDelay: 3_600_000 } });
    const delays: number[] = [];
    client.on('retry', (e) => delays.push(e.delay));
    const pending = timedRejection(() => client.getToken());
    await waitUntil(() => delays.length === 1);
    expect(delays).toEqual([3_600_000]); // it really is waiting an hour
    expect(activeTimers()).toBeGreaterThan(before); // a caller waits: that timer is ref'ed, as documented
    await client.close();
    const { error, elapsed } = await pending;
    expect(error.code).toBe('CLOSED');
    expect(elapsed).toBeLessThan(SLACK);
    await settle();
    expect(activeTimers()).toBeLessThanOrEqual(before);
  });

  it('a background refresh that hangs holds no ref’ed timer, and close() ends it', async () => {
    const server = await h.server(token(3600));
    const client = h.client(server, {
      timeout: 60_000,
      retry: { retries: 2, minDelay: 10, maxDelay: 200 },
      refreshRatio: 0,
      refreshJitter: 0,
    });
    const first = await client.getToken();
    await settle();
    const before = activeTimers();
    server.behavior = hang;
    // Due at once (refreshRatio 0): this call starts the background refresh and gets the current token.
    expect((await client.getToken()).accessToken).toBe(first.accessToken);
    await waitUntil(() => server.requests.length === 2);
    expect(activeTimers()).toBeLessThanOrEqual(before); // the 60 s attempt timer is unref'ed
    await client.close();
    await waitUntil(() => server.requests[1]!.closedAt !== undefined, { timeout: 2_000 });
    await settle();
    expect(activeTimers()).toBeLessThanOrEqual(before);
  });

  it('a caller’s signal ends only its own wait (ABORTED); the shared request goes on for the others', async () => {
    const server = await h.server(token());
    server.queue.push(hang);
    const client = h.client(server, FAST);
    const controller = new AbortController();
    const impatient = timedRejection(() => client.getToken({ signal: controller.signal }));
    const patient = client.getToken();
    await waitUntil(() => server.requests.length === 1);
    controller.abort();
    const { error, elapsed } = await impatient;
    expect(TokenError.is(error) && error.code).toBe('ABORTED');
    expect(elapsed).toBeLessThan(FAST.timeout + SLACK);
    // The hang times out, the retry gets a token for the patient caller.
    expect((await patient).accessToken).toMatch(/^tok-/);
    expect(server.requests).toHaveLength(2);
  });
});
