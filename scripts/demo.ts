/**
 * `npm run demo`: m2m-token end to end, in a few seconds, with nothing to configure.
 *
 * Starts an embedded authorization server (oidc-provider, tokens that live 4 s) and a protected API that
 * checks every token by introspection, both on free 127.0.0.1 ports, then uses the client as a service
 * would and reports each step. It doubles as a smoke test: if a step does not behave as described, it
 * says so and exits 1.
 */
import { createHash } from 'node:crypto';
import { performance } from 'node:perf_hooks';
import { setTimeout as sleep } from 'node:timers/promises';
import { styleText } from 'node:util';
import { ClientCredentialsClient, TokenError, defaults, type Token } from 'm2m-token';
import { demoClients, startAuthorizationServer, startResourceServer } from '../examples/support/embedded-server.js';

/** Access token lifetime at the authorization server, in seconds: short, so that a rotation comes quickly. */
const TOKEN_LIFETIME = 4;
/** Calls sent at once in step 2. */
const CONCURRENT_CALLS = 200;
/** Step 3: calls every tick while the token nears the end of its life (160 calls a second). */
const CALLS_PER_TICK = 4;
const TICK_MS = 25;
/** The demo gives up (exit 1) if it has not finished by then. */
const WATCHDOG_MS = 30_000;

const useColor = process.stdout.isTTY === true && !process.env.NO_COLOR;
const paint = (format: Parameters<typeof styleText>[0], text: string) => (useColor ? styleText(format, text) : text);

class DemoFailure extends Error {}

/** Fails the current step unless `condition` holds. */
function expect(condition: unknown, message: string): asserts condition {
  if (!condition) throw new DemoFailure(message);
}

const ms = (value: number) => `${value < 1 ? value.toFixed(2) : value < 10 ? value.toFixed(1) : Math.round(value)} ms`;
const seconds = (value: number) => `${(value / 1000).toFixed(2)} s`;
/** A short label for a token: never the token itself. */
const label = (token: Token) => createHash('sha256').update(token.accessToken).digest('hex').slice(0, 8);

let currentStep = 'start';
function step(title: string): void {
  currentStep = title;
  console.log(`\n${paint('bold', title)}`);
}
function row(name: string, value: string, note = '', width = 12): void {
  console.log(`   ${name.padEnd(26)}${note ? `${value.padEnd(width)}${paint('dim', note)}` : value}`);
}

async function main(): Promise<void> {
  const started = performance.now();
  console.log(paint('bold', 'm2m-token demo: OAuth 2.0 client credentials, end to end on 127.0.0.1'));

  const as = await startAuthorizationServer({ accessTokenTtl: TOKEN_LIFETIME });
  const api = await startResourceServer({ introspectionEndpoint: as.introspectionEndpoint, ...demoClients.resourceServer });
  const client = new ClientCredentialsClient({
    tokenEndpoint: as.tokenEndpoint,
    revocationEndpoint: as.revocationEndpoint,
    clientId: demoClients.basic.clientId,
    clientSecret: demoClients.basic.clientSecret,
    scope: 'orders:read',
  });
  const ordersUrl = `${api.url}/orders`;

  try {
    console.log();
    row('authorization server', as.issuer, `oidc-provider, access tokens live ${TOKEN_LIFETIME} s`, 25);
    row('protected API', api.url, 'checks every token by introspection', 25);
    row('client', demoClients.basic.clientId, 'scope orders:read, default settings', 25);

    // oidc-provider dates tokens in whole seconds, so a token issued late in a second really lives up to
    // 1 s less than `expires_in` says. Starting just after a second boundary keeps the rotation in step 3
    // well before the server-side expiry (which would otherwise show up as a 401 and a retry instead).
    await sleep(1000 - (Date.now() % 1000) + 10);

    // 1. First token ---------------------------------------------------------------------------------
    step('1. First token');
    const t0 = Date.now();
    let t = performance.now();
    const first = await client.getToken();
    const firstTokenMs = performance.now() - t;
    expect(as.issued() === 1, `expected 1 token request, the server counted ${as.issued()}`);
    expect((await client.getToken()) === first, 'a second getToken() did not return the cached token');
    row(
      'getToken()',
      ms(firstTokenMs),
      `${first.tokenType} token ${label(first)}, scope "${first.scope}", expires in ${((first.expiresAt - t0) / 1000).toFixed(1)} s`,
    );
    row('getToken() again', 'cached', 'same token, no request');
    row('token requests', String(as.issued()));

    // 2. Many concurrent calls, one token ------------------------------------------------------------
    step(`2. ${CONCURRENT_CALLS} concurrent API calls`);
    let apiBefore = api.requests();
    t = performance.now();
    const responses = await Promise.all(Array.from({ length: CONCURRENT_CALLS }, () => client.fetch(ordersUrl)));
    const burstMs = performance.now() - t;
    await Promise.all(responses.map((res) => res.body?.cancel()));
    const ok = responses.filter((res) => res.status === 200).length;
    expect(ok === CONCURRENT_CALLS, `${CONCURRENT_CALLS - ok} of ${CONCURRENT_CALLS} calls did not get 200`);
    expect(api.requests() - apiBefore === CONCURRENT_CALLS, 'some calls were retried after a 401');
    expect(as.issued() === 1, `expected still 1 token request, the server counted ${as.issued()}`);
    row(`${CONCURRENT_CALLS} × client.fetch`, ms(burstMs), `${ok} × HTTP 200, every one with token ${label(first)}`);
    row('token requests', String(as.issued()), 'still 1: concurrent callers share one token');

    // 3. Rotation ---------------------------------------------------------------------------------------
    step('3. Rotation in the background');
    // When the client will refresh, from its documented defaults: after refreshRatio of the usable life
    // (lifetime − margin), up to refreshJitter × lifetime earlier. Start calling a little before that.
    const lifetime = first.expiresAt - t0;
    const usable = lifetime - Math.min(defaults.expiryMargin, lifetime / 10);
    const earliestRefresh = t0 + usable * defaults.refreshRatio - defaults.refreshJitter * lifetime;
    const windowStart = earliestRefresh - 200;
    if (Date.now() < windowStart) await sleep(windowStart - Date.now());

    apiBefore = api.requests();
    /** One caller: is a token ready the moment it asks (a settled promise, no wait)? Then the API call. */
    const call = async () => {
      const start = performance.now();
      const asked = client.getToken();
      let ready = false;
      asked.then(
        () => (ready = true),
        () => {},
      );
      await null; // one microtask turn: enough for a settled promise, far too little for any request
      const res = await client.fetch(ordersUrl);
      await res.body?.cancel();
      return { ready, token: await asked, status: res.status, latency: performance.now() - start };
    };
    const calls: ReturnType<typeof call>[] = [];
    let rotatedAt: number | undefined;
    let ticksAfter = 3;
    const callingFrom = Date.now();
    while (ticksAfter > 0) {
      expect(Date.now() < t0 + lifetime, `no new token before the first one expired (${as.issued()} token requests)`);
      for (let i = 0; i < CALLS_PER_TICK; i++) {
        const caller = call();
        caller.catch(() => {}); // awaited below; this only keeps an early failure from going unhandled
        calls.push(caller);
      }
      if ((await client.getToken()) !== first) {
        rotatedAt ??= Date.now();
        ticksAfter--;
      }
      await sleep(TICK_MS);
    }
    const results = await Promise.all(calls);
    const callingUntil = Date.now();
    const next = results.at(-1)!.token;
    const failed = results.filter((r) => r.status !== 200).length;
    const waited = results.filter((r) => !r.ready).length;
    const maxLatency = Math.max(...results.map((r) => r.latency));
    const withOld = results.filter((r) => r.token === first).length;
    expect(failed === 0, `${failed} of ${results.length} calls during the rotation did not get 200`);
    expect(api.requests() - apiBefore === results.length, 'some calls during the rotation were retried after a 401');
    expect(waited === 0, `${waited} of ${results.length} callers had to wait for a token during the rotation`);
    expect(as.issued() === 2, `expected 2 token requests, the server counted ${as.issued()}`);
    const life = (at: number) => seconds(at - t0);
    row(
      'calls while rotating',
      String(results.length),
      `from ${life(callingFrom)} to ${life(callingUntil)} of the first token's ${seconds(lifetime)}`,
    );
    row(
      'new token in use from',
      life(rotatedAt!),
      `token ${label(next)}; ${withOld} calls used the old one, ${results.length - withOld} the new`,
    );
    row('callers that waited', `0 of ${results.length}`, 'the refresh ran in the background; every caller got a cached token');
    row('max caller latency', ms(maxLatency), `client.fetch, API included; all ${results.length} × HTTP 200, none retried`);
    row('token requests', String(as.issued()));

    // 4. A token revoked behind the client's back -----------------------------------------------------
    step("4. Token revoked behind the client's back");
    const revokedToken = await client.getToken();
    await as.revoke(revokedToken.accessToken);
    row('server revokes', label(revokedToken), 'the client is not told');
    apiBefore = api.requests();
    const issuedBefore = as.issued();
    t = performance.now();
    const recovered = await client.fetch(ordersUrl);
    const recoverMs = performance.now() - t;
    await recovered.body?.cancel();
    const replacement = await client.getToken();
    expect(recovered.status === 200, `client.fetch returned ${recovered.status} instead of recovering`);
    expect(api.requests() - apiBefore === 2, `expected 2 API requests (401, then 200), saw ${api.requests() - apiBefore}`);
    expect(as.issued() - issuedBefore === 1, `expected 1 new token request, saw ${as.issued() - issuedBefore}`);
    expect(replacement !== revokedToken, 'the client still holds the revoked token');
    row('client.fetch', '200 OK', `${ms(recoverMs)}: 401 invalid_token, new token ${label(replacement)}, same request sent again`);
    row('token requests', String(as.issued()));

    // 5. Revocation on shutdown -------------------------------------------------------------------------
    step('5. Shutdown with revocation');
    const held = await client.getToken();
    expect((await as.introspect(held.accessToken)).active, 'the held token is not active before shutdown');
    t = performance.now();
    const { revoked, errors } = await client.close({ revoke: true });
    const closeMs = performance.now() - t;
    expect(errors.length === 0, `close() reported: ${errors.map((e) => e.message).join('; ')}`);
    expect(revoked === 1, `expected 1 token revoked, close() revoked ${revoked}`);
    const after = await as.introspect(held.accessToken);
    expect(!after.active, 'the token is still active after close({ revoke: true })');
    const later = await client.getToken().then(
      () => 'a token',
      (error: unknown) => (TokenError.is(error) ? error.code : String(error)),
    );
    expect(later === 'CLOSED', `getToken() after close() gave ${later}`);
    row('close({ revoke: true })', ms(closeMs), `${revoked} token revoked, ${errors.length} errors`);
    row('introspection', 'inactive', `token ${label(held)}: active before close, inactive after`);
    row('getToken() after close', 'CLOSED', 'rejects, as do callers still waiting');

    console.log(
      `\n${paint('green', '✓')} All 5 steps behaved as described (${seconds(performance.now() - started)}, ${as.issued()} token requests, ${api.requests()} API requests).`,
    );
  } finally {
    await client.close();
    await api.close();
    await as.close();
  }
}

const watchdog = setTimeout(() => {
  console.error(`\n✗ demo did not finish within ${WATCHDOG_MS / 1000} s (at ${currentStep})`);
  process.exit(1);
}, WATCHDOG_MS);
watchdog.unref();

try {
  await main();
} catch (error) {
  process.exitCode = 1;
  if (error instanceof DemoFailure) {
    console.error(`\n${paint('red', '✗')} ${currentStep}: ${error.message}`);
  } else {
    console.error(`\n${paint('red', '✗')} ${currentStep}: unexpected error`);
    console.error(error);
  }
}
