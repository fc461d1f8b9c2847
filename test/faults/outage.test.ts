/**
 * The property that matters most: a token-endpoint outage shorter than the current token's remaining
 * life is invisible to callers. 50 callers (getToken() and the authorized fetch against a resource
 * server that checks every token) call every ~10 ms while the token server fails (503, port closed,
 * or accepting and hanging) from just before the background refresh is due until shortly before the
 * token's margin. Zero rejections, zero 401s, and exactly one refresh once the server is back.
 */
import { once } from 'node:events';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { describe, expect, it } from 'vitest';
import { hang, raw, token, useFaultHarness, type Behavior, type FaultServer } from './fault-server.js';
import { sleep } from '../helpers/time.js';

const h = useFaultHarness();

// Token lifetime 3 s. With refreshJitter 0 the client's schedule is exact (README, "How tokens are
// cached and rotated"): margin = min(expiryMargin, lifetime / 10) = 300 ms, so a token is handed out
// until sentAt + 2700 ms; with refreshRatio 0.6 the background refresh is due at sentAt + 0.6 × 2700 =
// sentAt + 1620 ms. (The ratio is lowered from its default 0.8 only to leave room on both sides of the
// outage for a loaded machine's late timers.)
const LIFETIME_S = 3;
const REFRESH_RATIO = 0.6;
const USABLE = 2_700;
const REFRESH_DUE = 1_620;
// The outage, relative to the first token's issue: it starts 320 ms before the refresh is due and ends
// 900 ms before the token's margin, after the first refresh attempts have failed.
const OUTAGE_START = 1_300;
const OUTAGE_END = 1_800;
// Callers go on past the first token's usable end: by then they must all be on the new token.
const CALLERS_STOP = 3_100;
const CALLERS = 50;
const FETCH_CALLERS = 10;
const PAUSE = 10;
const MAX_CALLS_PER_CALLER = 1_000;

interface Issued {
  readonly token: string;
  readonly at: number;
}

/** A resource server that accepts only tokens the token server issued, and only until they expire. */
async function resourceServer(issued: Issued[]) {
  const stats = { ok: 0, unauthorized: 0 };
  const server = createServer((req, res) => {
    const value = /^Bearer (.+)$/.exec(req.headers.authorization ?? '')?.[1];
    const known = issued.find((i) => i.token === value);
    if (known === undefined || Date.now() >= known.at + LIFETIME_S * 1000) {
      stats.unauthorized++;
      res.writeHead(401, { 'www-authenticate': 'Bearer error="invalid_token"' }).end();
      return;
    }
    stats.ok++;
    res.writeHead(200, { 'content-type': 'text/plain' }).end('ok');
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  h.closeLater({
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  });
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/orders`, stats };
}

type Mode = '503' | 'down' | 'hang';

/** How each kind of outage begins, and how it ends (`healthy` is the behaviour to restore). */
const outage: Record<
  Mode,
  { begin(server: FaultServer): Promise<void> | void; end(server: FaultServer, healthy: Behavior): Promise<void> | void }
> = {
  '503': {
    begin: (s) => void (s.behavior = raw(503, 'Service Unavailable', { 'content-type': 'text/plain' })),
    end: (s, healthy) => void (s.behavior = healthy),
  },
  down: {
    begin: (s) => s.down(),
    end: (s) => s.up(),
  },
  hang: {
    begin: (s) => void (s.behavior = hang),
    end: (s, healthy) => void (s.behavior = healthy),
  },
};

describe('an outage shorter than the token’s remaining life', () => {
  it.each(['503', 'down', 'hang'] as Mode[])(
    'token server %s from before the refresh until before the margin: 50 callers see zero failures',
    async (mode) => {
      const issued: Issued[] = [];
      const issue = token(LIFETIME_S, (value) => issued.push({ token: value, at: Date.now() }));
      const server = await h.server(issue);
      const resource = await resourceServer(issued);
      const client = h.client(server, {
        timeout: 300,
        retry: { retries: 2, minDelay: 10, maxDelay: 200 },
        refreshRatio: REFRESH_RATIO,
        refreshJitter: 0,
      });
      // Failed attempts of the refresh: retried ones (`retry`) and refreshes that gave up (`error`);
      // tokens the client received (the server may also issue one to an attempt the client already
      // gave up on, on a starved machine: that one is not counted as a refresh).
      const failedAttempts: string[] = [];
      const received: { at: number; background: boolean }[] = [];
      client.on('token', (e) => received.push({ at: Date.now(), background: e.background }));
      client.on('retry', (e) => failedAttempts.push(`retry ${e.reason}`));
      client.on('error', (e) => failedAttempts.push(`${e.background ? 'background' : 'foreground'} ${e.error.code}`));

      const first = await client.getToken();
      expect(issued).toHaveLength(1);
      const t0 = issued[0]!.at;
      expect(first.accessToken).toBe(issued[0]!.token);

      // The outage, on a schedule relative to the first token's issue.
      const at = (offset: number) => sleep(Math.max(0, t0 + offset - Date.now()));
      let outageBegan = 0;
      let outageEnded = 0;
      const schedule = (async () => {
        await at(OUTAGE_START);
        await outage[mode].begin(server);
        outageBegan = Date.now();
        await at(OUTAGE_END);
        await outage[mode].end(server, issue);
        outageEnded = Date.now();
      })();

      const failures: unknown[] = [];
      const tokenCalls: { token: string; at: number }[] = [];
      const fetchStatuses = new Map<number, number>();
      const caller = async (index: number) => {
        for (let n = 0; n < MAX_CALLS_PER_CALLER && Date.now() < t0 + CALLERS_STOP; n++) {
          try {
            if (index < FETCH_CALLERS) {
              const res = await client.fetch(resource.url);
              await res.arrayBuffer();
              fetchStatuses.set(res.status, (fetchStatuses.get(res.status) ?? 0) + 1);
            } else {
              const got = await client.getToken();
              tokenCalls.push({ token: got.accessToken, at: Date.now() });
            }
          } catch (error) {
            failures.push(error);
          }
          await sleep(PAUSE);
        }
      };
      await Promise.all(Array.from({ length: CALLERS }, (_, i) => caller(i)));
      await schedule;

      // What happened, relative to the first token's issue: printed with any failed assertion below.
      const story = JSON.stringify({
        mode,
        outage: [outageBegan - t0, outageEnded - t0],
        issued: issued.map((i) => i.at - t0),
        failedAttempts,
        received: received.map((r) => ({ ...r, at: r.at - t0 })),
        requests: server.requests.map((r) => r.at - t0),
        failures: failures.slice(0, 3).map(String),
        failureCount: failures.length,
        calls: tokenCalls.length,
        fetches: Object.fromEntries(fetchStatuses),
        resource: resource.stats,
      });
      // The outage happened where intended, and overlapped the refresh.
      expect(outageBegan - t0, story).toBeLessThan(REFRESH_DUE);
      expect(outageEnded - t0, story).toBeLessThan(USABLE);
      expect(failedAttempts.length, story).toBeGreaterThanOrEqual(1);
      expect(
        failedAttempts.filter((f) => f.startsWith('foreground')),
        story,
      ).toEqual([]);
      if (mode !== 'down') {
        const failedDuringOutage = server.requests.filter((r) => r.at >= outageBegan && r.at < outageEnded);
        expect(failedDuringOutage.length, story).toBeGreaterThanOrEqual(1);
      }

      // Callers saw nothing of it.
      expect(failures, story).toEqual([]);
      expect(resource.stats.unauthorized, story).toBe(0);
      expect([...fetchStatuses.keys()], story).toEqual([200]);
      expect(resource.stats.ok, story).toBeGreaterThan(0);
      for (const call of tokenCalls) {
        const source = issued.find((i) => i.token === call.token)!;
        expect(call.at, story).toBeLessThan(source.at + LIFETIME_S * 1000); // never handed out expired
      }

      // Exactly one refresh reached the client, in the background, after the server came back and
      // before the old token's margin; callers moved to it.
      expect(received, story).toHaveLength(2);
      expect(received[1]!.background, story).toBe(true);
      const last = tokenCalls.filter((c) => c.at >= t0 + USABLE);
      expect(last.length, story).toBeGreaterThan(0);
      const lastTokens = new Set(last.map((c) => c.token));
      expect(lastTokens.size, story).toBe(1);
      const refreshed = issued.find((i) => lastTokens.has(i.token))!;
      expect(refreshed.at, story).toBeGreaterThanOrEqual(outageEnded);
      expect(refreshed.at - t0, story).toBeLessThan(USABLE);
      // Every call once the client had the new token got it: none went back to the old one.
      expect(tokenCalls.filter((c) => c.at > received[1]!.at + 20 && c.token === first.accessToken).length, story).toBe(0);
    },
    15_000,
  );
});
