/**
 * Secret hygiene of a failing `fetch`: a custom `fetch` (or an instrumented one) that rejects with an
 * error quoting the request — its `Authorization: Basic …` header, its `client_secret=…` body — in its
 * message, its stack and a nested `cause`, must not carry the secret into what the client hands out:
 * the rejected `TokenError` (all of it: `util.inspect` with `showHidden` and depth 10 walks the cause
 * chain), the `error` and `retry` events, the `m2m-token:error` diagnostics channel and the logger.
 * The client may keep a redacted copy of the cause or drop it; it may not keep it as is.
 */
import { subscribe, unsubscribe } from 'node:diagnostics_channel';
import { format, inspect } from 'node:util';
import { afterEach, describe, expect, it } from 'vitest';
import { ClientCredentialsClient, TokenError, type ClientCredentialsOptions } from '../../src/index.js';
import { rejectionOf } from '../helpers/core.js';

const CLIENT_ID = 'svc-cause';
const SECRET = 'CAUSE-s3cret+/:%~never-show-71ac';
const formEncode = (value: string) => new URLSearchParams([['', value]]).toString().slice(1);
const BASIC = Buffer.from(`${formEncode(CLIENT_ID)}:${formEncode(SECRET)}`).toString('base64');

const NEEDLES: readonly (readonly [string, string])[] = [
  ['client secret', SECRET],
  ['form-encoded client secret', formEncode(SECRET)],
  ['base64 client secret', Buffer.from(SECRET).toString('base64')],
  ['Basic credential', BASIC],
];

function leaksIn(text: string): string[] {
  return NEEDLES.filter(([, needle]) => text.includes(needle)).map(([what]) => what);
}

/** Everything printable about `value`: inspect with hidden properties through 10 levels, and `%o`. */
function deepText(value: unknown): string {
  return `${inspect(value, { depth: 10, showHidden: true })}\n${format('%o', value)}`;
}

/**
 * A `fetch` that fails the way an instrumented or proxying fetch might: its error quotes what was sent
 * (the Authorization header and the body) in the message, the stack, a nested cause and a property.
 */
function quotingFetch() {
  const state = { calls: 0, sentSecret: false };
  const fetch: typeof globalThis.fetch = async (_input, init) => {
    state.calls++;
    const headers = new Headers(init?.headers);
    const quoted = `authorization=${headers.get('authorization') ?? '-'} body=${String(init?.body ?? '')}`;
    state.sentSecret ||= leaksIn(quoted).length > 0;
    const root = new Error(`write EPIPE after sending ${quoted}`);
    const inner = new Error(`upstream proxy refused ${quoted}`, { cause: root });
    const error = new Error(`fetch failed while sending ${quoted}`, { cause: inner });
    error.stack = `Error: fetch failed while sending ${quoted}\n    at quotingFetch (proxy.js:1:1) ${quoted}`;
    Object.assign(error, { request: { headers: Object.fromEntries(headers), body: String(init?.body ?? '') } });
    throw error;
  };
  return { fetch, state };
}

const clients: ClientCredentialsClient[] = [];
afterEach(async () => {
  await Promise.all(clients.splice(0).map((c) => c.close()));
});

describe.each(['client_secret_basic', 'client_secret_post'] as const)('a fetch that rejects quoting the request (%s)', (clientAuth) => {
  it('leaves the secret out of the rejected TokenError, its cause chain, the error/retry events, the diagnostics channel and the logger', async () => {
    const { fetch, state } = quotingFetch();
    const sinks: { where: string; text: string }[] = [];
    const onChannel = (message: unknown) => sinks.push({ where: 'diagnostics_channel m2m-token:error', text: deepText(message) });
    subscribe('m2m-token:error', onChannel);
    try {
      const logged = (level: string) => (fields: object, message: string) =>
        sinks.push({ where: `logger.${level}`, text: `${message}\n${deepText(fields)}` });
      const options: ClientCredentialsOptions = {
        tokenEndpoint: 'https://auth.example.com/oauth2/token',
        clientId: CLIENT_ID,
        clientSecret: SECRET,
        clientAuth,
        retry: { retries: 1, minDelay: 1, maxDelay: 1 },
        fetch,
        logger: { debug: logged('debug'), info: logged('info'), warn: logged('warn'), error: logged('error') },
      };
      const client = new ClientCredentialsClient(options);
      clients.push(client);
      client.on('error', (event) => sinks.push({ where: "'error' event", text: deepText(event) }));
      client.on('retry', (event) => sinks.push({ where: "'retry' event", text: deepText(event) }));

      const error = await rejectionOf(client.getToken());
      expect(TokenError.is(error)).toBe(true);
      expect(error.code).toBe('NETWORK');
      // The fake really quoted the secret: the test would prove nothing otherwise.
      expect(state.sentSecret).toBe(true);
      expect(state.calls).toBe(2);

      sinks.push({ where: 'rejected error', text: `${deepText(error)}\n${String(error)}\n${error.stack}\n${JSON.stringify(error)}` });
      expect(sinks.some((s) => s.where === "'error' event")).toBe(true);
      expect(sinks.some((s) => s.where === 'diagnostics_channel m2m-token:error')).toBe(true);
      // Today: the rejected error's cause (and the error event's, the channel's) is the fetch's error as is.
      const leaks = sinks.flatMap((s) => leaksIn(s.text).map((what) => `${what} in ${s.where}`));
      expect(leaks).toEqual([]);
    } finally {
      unsubscribe('m2m-token:error', onChannel);
    }
  });
});
