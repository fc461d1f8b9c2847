/**
 * The `logger` option: which level each event is logged at, the `(fields, message)` call shape, what the
 * fields hold (and never hold), loggers with only some methods, `console`-shaped and real pino loggers,
 * and a logger that throws. HTTP is answered by msw.
 */
import { Console } from 'node:console';
import { Writable } from 'node:stream';
import { inspect } from 'node:util';
import { http, HttpResponse } from 'msw';
import pino from 'pino';
import { describe, expect, it, vi } from 'vitest';
import { fingerprint } from '../../src/events.js';
import type { ClientCredentialsClient, Logger } from '../../src/index.js';
import { leakyToken, rejectionOf, SECRET, tokenJson, useClients } from '../helpers/core.js';
import { waitUntil } from '../helpers/time.js';
import { REVOKE_URL, TOKEN_URL, useMswServer } from '../helpers/msw.js';

const server = useMswServer();
const makeClient = useClients();

const FAST = { retries: 3, minDelay: 1, maxDelay: 20 };
const BASIC = Buffer.from(`svc-a:${SECRET}`).toString('base64');
const unavailable = () => HttpResponse.json({ error: 'temporarily_unavailable' }, { status: 503 });
const revoked = () => new HttpResponse(null, { status: 200 });

/** A token endpoint answering `replies[n - 1]()` to the n-th request (the last one repeats). */
function scripted(replies: (() => Response)[], url = TOKEN_URL) {
  let n = 0;
  return http.post(url, () => replies[Math.min(++n, replies.length) - 1]!());
}

function fakeLogger() {
  return { debug: vi.fn(), info: vi.fn(), warn: vi.fn(), error: vi.fn() } satisfies Logger;
}

/** Every call of a fake logger as `[level, fields, message]`, in order. */
function callsOf(logger: ReturnType<typeof fakeLogger>): [string, Record<string, unknown>, string][] {
  const all = (['debug', 'info', 'warn', 'error'] as const).flatMap((level) =>
    logger[level].mock.calls.map((args, i) => ({
      order: logger[level].mock.invocationCallOrder[i]!,
      call: [level, ...args] as [string, Record<string, unknown>, string],
    })),
  );
  return all.sort((a, b) => a.order - b.order).map(({ call }) => call);
}

/**
 * Drives one client through every event: a retried token request, a forced refresh, a revocation that
 * succeeds and one that fails, and a token request that fails. Returns the access tokens involved.
 */
async function everyEvent(client: ClientCredentialsClient): Promise<string[]> {
  await client.getToken();
  await client.getToken({ forceRefresh: true });
  await client.revoke();
  await rejectionOf(client.revoke(leakyToken(3)));
  await rejectionOf(client.getToken());
  return [leakyToken(1), leakyToken(2), leakyToken(3)];
}

function useEveryEventServer(): void {
  server.use(
    scripted([
      unavailable,
      () => tokenJson(leakyToken(1)),
      () => tokenJson(leakyToken(2)),
      () => HttpResponse.json({ error: 'invalid_client' }, { status: 401 }),
    ]),
    scripted([revoked, () => HttpResponse.json({ error: 'invalid_request' }, { status: 400 })], REVOKE_URL),
  );
}

function expectNoSecrets(text: string, tokens: readonly string[]): void {
  expect(text).not.toContain(SECRET);
  expect(text).not.toContain(BASIC);
  for (const token of tokens) expect(text).not.toContain(token);
}

describe('log levels and the (fields, message) call', () => {
  it('logs an acquired token at debug with the token event as fields', async () => {
    server.use(http.post(TOKEN_URL, () => tokenJson(leakyToken(1))));
    const logger = fakeLogger();
    await makeClient({ logger, scope: 'orders:read' }).getToken();

    expect(callsOf(logger)).toEqual([
      [
        'debug',
        expect.objectContaining({
          clientId: 'svc-a',
          key: 'scope=orders:read',
          fingerprint: fingerprint(leakyToken(1)),
          attempts: 1,
          background: false,
        }),
        'm2m-token: token acquired for scope=orders:read',
      ],
    ]);
  });

  it('says "the default scope" when the token has no scope, audience or resource', async () => {
    server.use(http.post(TOKEN_URL, () => tokenJson(leakyToken(1))));
    const logger = fakeLogger();
    await makeClient({ logger }).getToken();
    expect(logger.debug).toHaveBeenCalledWith(expect.any(Object), 'm2m-token: token acquired for the default scope');
  });

  it('logs a retry at warn with the operation, attempt, reason, status and delay', async () => {
    server.use(scripted([unavailable, () => tokenJson(leakyToken(1))]));
    const logger = fakeLogger();
    await makeClient({ logger, retry: FAST }).getToken();

    expect(callsOf(logger).map(([level]) => level)).toEqual(['warn', 'debug']);
    const [fields, message] = logger.warn.mock.calls[0]!;
    expect(fields).toMatchObject({ clientId: 'svc-a', operation: 'token', attempt: 1, reason: 'OAUTH_ERROR', status: 503 });
    expect(message).toBe(`m2m-token: token attempt 1 failed (OAUTH_ERROR 503), retrying in ${fields.delay} ms`);
  });

  it('logs a failed token request at error, with the error reduced to code, status and message', async () => {
    server.use(http.post(TOKEN_URL, () => HttpResponse.json({ error: 'invalid_scope' }, { status: 400 })));
    const logger = fakeLogger();
    await rejectionOf(makeClient({ logger, scope: 'orders:admin' }).getToken());

    expect(callsOf(logger).map(([level]) => level)).toEqual(['error']);
    const [fields, message] = logger.error.mock.calls[0]!;
    expect(message).toBe('m2m-token: token failed: authorization server returned invalid_scope (HTTP 400)');
    expect(fields).toMatchObject({ operation: 'token', key: 'scope=orders:admin', background: false });
    expect(fields.error).toEqual({ code: 'OAUTH_ERROR', status: 400, message: 'authorization server returned invalid_scope (HTTP 400)' });
    expect(fields.error).not.toBeInstanceOf(Error);
  });

  it('logs a failed background refresh at warn, not error: callers still have a token', async () => {
    server.use(scripted([() => tokenJson(leakyToken(1)), unavailable]));
    const logger = fakeLogger();
    const client = makeClient({ logger, refreshRatio: 0, refreshJitter: 0 });
    const first = await client.getToken();
    expect(await client.getToken()).toBe(first);
    await waitUntil(() => expect(logger.warn).toHaveBeenCalledTimes(1));

    expect(logger.error).not.toHaveBeenCalled();
    expect(logger.warn.mock.calls[0]![0]).toMatchObject({
      operation: 'token',
      background: true,
      error: { code: 'OAUTH_ERROR', status: 503 },
    });
    expect(logger.warn.mock.calls[0]![1]).toMatch(/^m2m-token: token failed: /);
  });

  it('logs a revocation at info, and a failed one at warn with the error code', async () => {
    server.use(
      http.post(TOKEN_URL, () => tokenJson(leakyToken(1))),
      scripted([revoked, () => HttpResponse.json({ error: 'invalid_request' }, { status: 400 })], REVOKE_URL),
    );
    const logger = fakeLogger();
    const client = makeClient({ logger, revocationEndpoint: REVOKE_URL });
    await client.getToken();
    await client.revoke();
    await rejectionOf(client.revoke(leakyToken(2)));

    const fp1 = fingerprint(leakyToken(1));
    const fp2 = fingerprint(leakyToken(2));
    expect(logger.info).toHaveBeenCalledTimes(1);
    expect(logger.info).toHaveBeenCalledWith(
      expect.objectContaining({ fingerprint: fp1, ok: true, error: undefined }),
      `m2m-token: token ${fp1} revoked`,
    );
    expect(logger.warn).toHaveBeenCalledTimes(1);
    expect(logger.warn).toHaveBeenCalledWith(
      expect.objectContaining({ fingerprint: fp2, ok: false, error: 'OAUTH_ERROR' }),
      `m2m-token: token ${fp2} not revoked: authorization server returned invalid_request (HTTP 400)`,
    );
  });

  it('calls the methods on the logger object, so that loggers relying on `this` work', async () => {
    server.use(http.post(TOKEN_URL, () => tokenJson(leakyToken(1))));
    class PrefixLogger {
      readonly lines: string[] = [];
      readonly prefix = 'svc';
      debug(fields: object, message: string): void {
        this.lines.push(`${this.prefix} ${message} ${Object.keys(fields).length > 0}`);
      }
    }
    const logger = new PrefixLogger();
    await makeClient({ logger }).getToken();
    expect(logger.lines).toEqual(['svc m2m-token: token acquired for the default scope true']);
  });
});

describe('what is logged', () => {
  it('never contains the client secret, an access token or the Basic credentials (JSON and inspect of every argument)', async () => {
    useEveryEventServer();
    const logger = fakeLogger();
    const tokens = await everyEvent(makeClient({ logger, retry: FAST, revocationEndpoint: REVOKE_URL }));

    const calls = callsOf(logger);
    expect(new Set(calls.map(([level]) => level))).toEqual(new Set(['debug', 'info', 'warn', 'error']));
    for (const [, fields, message] of calls) {
      expectNoSecrets(message, tokens);
      expectNoSecrets(JSON.stringify(fields), tokens);
      expectNoSecrets(inspect(fields, { depth: Infinity, showHidden: true }), tokens);
    }
  });
});

describe('loggers of other shapes', () => {
  it('a logger with only some methods gets those calls; the events without a method are skipped', async () => {
    useEveryEventServer();
    const logger = { error: vi.fn() };
    const client = makeClient({ logger, retry: FAST, revocationEndpoint: REVOKE_URL });
    expect((await client.getToken()).accessToken).toBe(leakyToken(1));
    await client.getToken({ forceRefresh: true });
    await client.revoke();
    await rejectionOf(client.revoke(leakyToken(3)));
    const error = await rejectionOf(client.getToken());
    expect(error.code).toBe('OAUTH_ERROR');
    expect(logger.error).toHaveBeenCalledTimes(1);
    expect(logger.error.mock.calls[0]![1]).toContain('invalid_client');
  });

  it('a logger with no methods at all changes nothing', async () => {
    server.use(scripted([unavailable, () => tokenJson(leakyToken(1))]));
    const client = makeClient({ logger: {}, retry: FAST });
    expect((await client.getToken()).accessToken).toBe(leakyToken(1));
  });

  it('a console (node:console Console) is a logger: every event is written, none throws, no secret shows', async () => {
    useEveryEventServer();
    let output = '';
    const sink = new Writable({
      write(chunk: Buffer, _encoding, done) {
        output += chunk.toString('utf8');
        done();
      },
    });
    const logger = new Console({ stdout: sink, stderr: sink, colorMode: false });
    const tokens = await everyEvent(makeClient({ logger, retry: FAST, revocationEndpoint: REVOKE_URL }));

    expect(output).toContain('m2m-token: token acquired for the default scope');
    expect(output).toMatch(/m2m-token: token attempt 1 failed \(OAUTH_ERROR 503\), retrying in \d+ ms/);
    expect(output).toContain(`m2m-token: token ${fingerprint(leakyToken(2))} revoked`);
    expect(output).toContain('not revoked: authorization server returned invalid_request');
    expect(output).toContain('m2m-token: token failed: authorization server returned invalid_client (HTTP 401)');
    expectNoSecrets(output, tokens);
  });

  it('pino is a logger: levels map to debug 20, info 30, warn 40, error 50, fields are merged into each line', async () => {
    useEveryEventServer();
    const lines: Record<string, unknown>[] = [];
    let raw = '';
    const sink = new Writable({
      write(chunk: Buffer, _encoding, done) {
        raw += chunk.toString('utf8');
        for (const line of chunk.toString('utf8').split('\n').filter(Boolean)) lines.push(JSON.parse(line) as Record<string, unknown>);
        done();
      },
    });
    const logger = pino({ level: 'debug', base: null }, sink);
    const tokens = await everyEvent(makeClient({ logger, retry: FAST, revocationEndpoint: REVOKE_URL }));
    await waitUntil(() => expect(lines.length).toBeGreaterThanOrEqual(6));

    expect(lines.map((l) => [l.level, l.msg])).toEqual([
      [40, expect.stringMatching(/^m2m-token: token attempt 1 failed \(OAUTH_ERROR 503\)/)],
      [20, 'm2m-token: token acquired for the default scope'],
      [20, 'm2m-token: token acquired for the default scope'],
      [30, `m2m-token: token ${fingerprint(leakyToken(2))} revoked`],
      [40, expect.stringMatching(/^m2m-token: token \S+ not revoked: /)],
      [50, 'm2m-token: token failed: authorization server returned invalid_client (HTTP 401)'],
    ]);
    expect(lines[1]).toMatchObject({ clientId: 'svc-a', fingerprint: fingerprint(leakyToken(1)), attempts: 2, background: false });
    expect(lines[5]).toMatchObject({ operation: 'token', error: { code: 'OAUTH_ERROR', status: 401 } });
    expectNoSecrets(raw, tokens);
  });
});

describe('a logger that fails', () => {
  it('a logger method that throws does not break getToken() or revoke(); a process warning is emitted instead', async () => {
    server.use(scripted([unavailable, () => tokenJson(leakyToken(1))]), http.post(REVOKE_URL, revoked));
    const warnings: Error[] = [];
    const onWarning = (warning: Error) => warnings.push(warning);
    process.on('warning', onWarning);
    try {
      const explode = () => {
        throw new Error('log sink is gone');
      };
      const client = makeClient({
        logger: { debug: explode, info: explode, warn: explode, error: explode },
        retry: FAST,
        revocationEndpoint: REVOKE_URL,
      });
      expect((await client.getToken()).accessToken).toBe(leakyToken(1));
      await client.revoke();
      await waitUntil(() => expect(warnings.filter((w) => w.message.includes('log sink is gone'))).toHaveLength(3));
    } finally {
      process.off('warning', onWarning);
    }
    // One for the retry (warn), one for the token (debug), one for the revocation (info).
    expect(warnings.filter((w) => w.message.includes('log sink is gone')).map((w) => [w.name, w.message])).toEqual([
      ['M2MTokenListenerWarning', "m2m-token: the logger's warn() threw: log sink is gone"],
      ['M2MTokenListenerWarning', "m2m-token: the logger's debug() threw: log sink is gone"],
      ['M2MTokenListenerWarning', "m2m-token: the logger's info() threw: log sink is gone"],
    ]);
  });

  it('a logger that is not an object is refused with a TypeError', () => {
    expect(() => makeClient({ logger: 'console' as never })).toThrow(TypeError);
    expect(() => makeClient({ logger: null as never })).toThrow(TypeError);
  });
});
