/**
 * Secret hygiene: drives every error path the client has — invalid options, OAuth errors (with the
 * invalid_client backoff), malformed responses, TIMEOUT, NETWORK, ABORTED, CLOSED, CONFIG, revocation,
 * discovery, close({ revoke: true }), failing token stores (a real Redis included) — with a distinctive
 * client secret, an RSA private key (private_key_jwt), a DPoP key and distinctive access tokens, against
 * a server that echoes back everything it was sent. Then it scans everything a user could log: each
 * error (message, stack, `String`, `util.inspect`, JSON, the whole cause chain and AggregateError.errors),
 * every event payload (`client.on` and diagnostics_channel), every logger call, tokens, the client and
 * close results. None may contain the secret (as is, form-encoded, base64, the Basic credential), a line
 * of the PEM key, a private JWK member, or an access token.
 *
 * `util.inspect(…, { showHidden: true })` is scanned too for errors, events and the client. It is not
 * for tokens: `accessToken` is a non-enumerable property precisely so that it stays readable while plain
 * JSON and inspect output leave it out, and showHidden is the explicit request to show such properties.
 */
import { subscribe, unsubscribe } from 'node:diagnostics_channel';
import { generateKeyPairSync } from 'node:crypto';
import { createServer, type AddressInfo } from 'node:net';
import { format, inspect } from 'node:util';
import { Redis } from 'ioredis';
import { http, HttpResponse } from 'msw';
import { setupServer } from 'msw/node';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import {
  ClientCredentialsClient,
  MemoryTokenStore,
  OAuthError,
  type TokenError,
  type ClientCredentialsOptions,
  type Logger,
  type StoredToken,
  type Token,
  type TokenStore,
} from '../../src/index.js';
import { RedisTokenStore } from '../../src/redis.js';
import { hangingEndpoint } from '../helpers/msw.js';
import { RedisServer, rawCommand } from '../helpers/redis.js';
import { sleep } from '../helpers/time.js';

// ---------------------------------------------------------------------------------------------------
// The secrets, and every form in which they could show up.

const CLIENT_ID = 'svc-hygiene';
const SECRET = 'HYG-s3cret+/:%~never-show-4b1f';
const TOKEN_MARK = 'AT-hygiene-never-show';
const accessToken = (n: number | string) => `${TOKEN_MARK}-${n}`;

const formEncode = (value: string) => new URLSearchParams([['', value]]).toString().slice(1);
const BASIC = Buffer.from(`${formEncode(CLIENT_ID)}:${formEncode(SECRET)}`).toString('base64');

const rsa = generateKeyPairSync('rsa', { modulusLength: 2048 });
const RSA_PEM = rsa.privateKey.export({ type: 'pkcs8', format: 'pem' }) as string;
const RSA_JWK = rsa.privateKey.export({ format: 'jwk' }) as Record<string, string>;
const dpopKey = generateKeyPairSync('ec', { namedCurve: 'P-256' });
const DPOP_JWK = dpopKey.privateKey.export({ format: 'jwk' }) as Record<string, string>;

const NEEDLES: readonly (readonly [string, string])[] = [
  ['client secret', SECRET],
  ['form-encoded client secret', formEncode(SECRET)],
  ['base64 client secret', Buffer.from(SECRET).toString('base64')],
  ['Basic credential', BASIC],
  ['access token', TOKEN_MARK],
  ['PEM armour', 'PRIVATE KEY-----'],
  ...RSA_PEM.split('\n')
    .filter((line) => line.length >= 16 && !line.startsWith('-----'))
    .map((line) => ['RSA PEM line', line] as const),
  ...(['d', 'p', 'q', 'dp', 'dq', 'qi'] as const).map((m) => [`RSA JWK ${m}`, RSA_JWK[m]!] as const),
  ['DPoP JWK d', DPOP_JWK.d!],
];

/** The needles found in `text`. */
function leaksIn(text: string): string[] {
  return NEEDLES.filter(([, needle]) => text.includes(needle)).map(([what]) => what);
}

// ---------------------------------------------------------------------------------------------------
// The sinks: everything a user could print, collected per test and scanned.

interface Sink {
  readonly where: string;
  readonly text: string;
}
let sinks: Sink[] = [];
const add = (where: string, text: string | undefined) => sinks.push({ where, text: text ?? '' });

/** Everything an error shows, along the cause chain and AggregateError.errors. */
function addError(where: string, error: unknown, depth = 0): void {
  if (depth > 12 || error === undefined || error === null) return;
  if (typeof error !== 'object') {
    add(`${where} (thrown value)`, String(error));
    return;
  }
  const e = error as Error & { errors?: unknown };
  add(`${where}.message`, String(e.message));
  add(`${where}.stack`, String(e.stack));
  add(`${where} String()`, String(e));
  add(`${where} inspect`, inspect(e, { depth: 10 }));
  add(`${where} inspect showHidden`, inspect(e, { depth: 10, showHidden: true }));
  add(`${where} JSON`, JSON.stringify(e));
  addError(`${where}.cause`, e.cause, depth + 1);
  if (Array.isArray(e.errors)) e.errors.forEach((inner, i) => addError(`${where}.errors[${i}]`, inner, depth + 1));
}

function addValue(where: string, value: unknown): void {
  add(`${where} JSON`, JSON.stringify(value));
  add(`${where} inspect`, inspect(value, { depth: 10 }));
}

function addToken(where: string, token: Token): void {
  add(`${where} JSON`, JSON.stringify(token));
  add(`${where} inspect`, inspect(token, { depth: 10 }));
  add(`${where} String()`, String(token));
  add(`${where} keys`, Object.keys(token).join(','));
  add(`${where} spread`, inspect({ ...token }, { depth: 10 }));
}

function addClient(where: string, client: ClientCredentialsClient): void {
  add(`${where} inspect`, inspect(client, { depth: 10 }));
  add(`${where} inspect showHidden`, inspect(client, { depth: 10, showHidden: true }));
  add(`${where} JSON`, JSON.stringify(client));
  add(`${where} String()`, String(client));
}

/** Fails naming every sink that shows a secret. Clears the sinks. */
function expectNoLeaks(): void {
  const found = sinks.flatMap(({ where, text }) => leaksIn(text).map((what) => `${what} in ${where}`));
  sinks = [];
  expect(found).toEqual([]);
}

// Events, from every client (on) and from diagnostics_channel, and every logger call.
const seen = { token: 0, retry: 0, error: 0, revoke: 0, logger: 0, channel: 0 };
const EVENTS = ['token', 'retry', 'error', 'revoke'] as const;
const onChannel = (event: unknown, name: string | symbol) => {
  seen.channel++;
  addValue(`diagnostics_channel ${String(name)}`, event);
  add(`diagnostics_channel ${String(name)} inspect showHidden`, inspect(event, { depth: 10, showHidden: true }));
  addError(`diagnostics_channel ${String(name)} .error`, (event as { error?: unknown }).error);
};
beforeAll(() => {
  for (const name of EVENTS) subscribe(`m2m-token:${name}`, onChannel);
});
afterAll(() => {
  for (const name of EVENTS) unsubscribe(`m2m-token:${name}`, onChannel);
});

const logger: Logger = Object.fromEntries(
  (['debug', 'info', 'warn', 'error'] as const).map((level) => [
    level,
    (...args: unknown[]) => {
      seen.logger++;
      addValue(`logger.${level}`, args);
    },
  ]),
);

// ---------------------------------------------------------------------------------------------------
// The authorization server: msw, echoing everything it was sent; real sockets only on 127.0.0.1.

const TOKEN_URL = 'https://auth.example.com/oauth2/token';
const REVOKE_URL = 'https://auth.example.com/oauth2/revoke';
const ISSUER = 'https://auth.example.com';
const API = 'https://api.example.com';

const server = setupServer();
beforeAll(() =>
  server.listen({
    onUnhandledRequest(request, print) {
      if (new URL(request.url).hostname !== '127.0.0.1') print.error();
    },
  }),
);
afterAll(() => server.close());

/** All a request carried, as a hostile server would echo it back. */
async function echo(request: Request): Promise<string> {
  return `headers=${JSON.stringify([...request.headers])} body=${await request.text()}`;
}

/** An OAuth error response whose every text member repeats the whole request. */
const echoingError =
  (status: number, error = 'invalid_request') =>
  async ({ request }: { request: Request }) => {
    const everything = await echo(request);
    return HttpResponse.json({ error, error_description: everything, error_uri: `https://errors.example/?${everything}` }, { status });
  };

const tokenJson = (value: string, expiresIn: number | string = 3600) =>
  HttpResponse.json({ access_token: value, token_type: 'Bearer', expires_in: expiresIn });

const clients: ClientCredentialsClient[] = [];
afterEach(async () => {
  for (const client of clients.splice(0)) addValue('close() result', await client.close());
  server.resetHandlers();
  expectNoLeaks();
});

/** A client with the hygiene secret, a logger and listeners on every event. */
function makeClient(options: Partial<ClientCredentialsOptions> = {}): ClientCredentialsClient {
  const merged: Record<string, unknown> = { tokenEndpoint: TOKEN_URL, clientId: CLIENT_ID, clientSecret: SECRET, retry: false, logger };
  // A key given as undefined means "not set" here (the client refuses present-but-undefined credentials).
  for (const [key, value] of Object.entries(options)) {
    if (value === undefined) delete merged[key];
    else merged[key] = value;
  }
  const client = new ClientCredentialsClient(merged as unknown as ClientCredentialsOptions);
  for (const name of EVENTS) {
    client.on(name, (event) => {
      seen[name]++;
      addValue(`'${name}' event`, event);
      add(`'${name}' event inspect showHidden`, inspect(event, { depth: 10, showHidden: true }));
      addError(`'${name}' event .error`, (event as { error?: unknown }).error);
    });
  }
  clients.push(client);
  return client;
}

/** The rejection of `promise`, recorded as a sink; fails if it fulfils. */
async function failure(where: string, promise: Promise<unknown>): Promise<TokenError> {
  let caught: unknown;
  try {
    await promise;
  } catch (error) {
    caught = error;
  }
  expect(caught, `${where} should have rejected`).toBeDefined();
  addError(where, caught);
  return caught as TokenError;
}

function thrown(where: string, fn: () => unknown): unknown {
  let caught: unknown;
  try {
    fn();
  } catch (error) {
    caught = error;
  }
  expect(caught, `${where} should have thrown`).toBeDefined();
  addError(where, caught);
  return caught;
}

// ---------------------------------------------------------------------------------------------------

describe('the scanner', () => {
  it('finds every kind of secret, wherever it is nested', () => {
    for (const [what, needle] of NEEDLES) {
      expect(leaksIn(inspect({ deep: { deeper: [`…${needle}…`] } }, { depth: 10 }))).toContain(what);
    }
    expect(NEEDLES.filter(([w]) => w === 'RSA PEM line').length).toBeGreaterThan(10);
    add('planted', `x${SECRET}x`);
    expect(() => expectNoLeaks()).toThrow();
    expect(sinks).toEqual([]);
  });
});

describe('secrets stay out of everything a user can print', () => {
  it('invalid options (TypeError), with the secret and the keys in the options', () => {
    const base = { tokenEndpoint: TOKEN_URL, clientId: CLIENT_ID, clientSecret: SECRET };
    const corruptPem = RSA_PEM.split('\n')
      .filter((_, i) => i !== 3)
      .join('\n');
    const attempts: [string, Record<string, unknown>][] = [
      ['timeout', { ...base, timeout: -1 }],
      ['clientAuth', { ...base, clientAuth: SECRET }],
      ['extraParams.client_secret', { ...base, extraParams: { client_secret: SECRET } }],
      ['extraParams.x', { ...base, extraParams: { x: 5 } }],
      ['tokenEndpoint with credentials', { ...base, tokenEndpoint: `https://${CLIENT_ID}:${formEncode(SECRET)}@auth.example.com/token` }],
      ['http tokenEndpoint', { ...base, tokenEndpoint: `http://auth.example.com/${formEncode(SECRET)}` }],
      ['empty clientSecret', { ...base, clientSecret: '' }],
      ['corrupt PEM privateKey', { ...base, clientSecret: undefined, privateKey: corruptPem }],
      ['public key as privateKey', { ...base, clientSecret: undefined, privateKey: rsa.publicKey.export({ type: 'spki', format: 'pem' }) }],
      ['JWK privateKey with a wrong alg', { ...base, clientSecret: undefined, privateKey: { ...RSA_JWK, alg: 'ES256' } }],
      ['JWK privateKey without p', { ...base, clientSecret: undefined, privateKey: { ...RSA_JWK, d: undefined } }],
      ['dpop key garbage', { ...base, dpop: { privateKey: `junk ${RSA_PEM}` } }],
      ['dpop key wrong alg', { ...base, dpop: { privateKey: DPOP_JWK, alg: 'RS256' } }],
      ['tls cert not a cert', { ...base, tls: { cert: RSA_PEM, key: RSA_PEM } }],
      ['store', { ...base, store: { get: SECRET } }],
      ['logger', { ...base, logger: SECRET }],
      ['retry', { ...base, retry: { retries: SECRET } }],
    ];
    for (const [what, options] of attempts) {
      const error = thrown(`new client (${what})`, () => new ClientCredentialsClient(options as never));
      expect(error, what).toBeInstanceOf(TypeError);
    }
  });

  it('invalid call arguments (TypeError)', async () => {
    const client = makeClient();
    expect(await failure('getToken({ scope })', client.getToken({ scope: `bad"${SECRET}` }))).toBeInstanceOf(TypeError);
    expect(await failure('getToken({ audience })', client.getToken({ audience: '' }))).toBeInstanceOf(TypeError);
    thrown('createFetch({ allowedOrigins })', () => client.createFetch({ allowedOrigins: [`not a url ${SECRET}`] }));
    await failure('revoke(5)', client.revoke(5 as never));
    thrown("on('bogus')", () => client.on('bogus' as never, () => {}));
  });

  it.each([
    ['client_secret_basic', {}],
    ['client_secret_post', { clientAuth: 'client_secret_post' }],
    ['client_secret_jwt', { clientAuth: 'client_secret_jwt' }],
    ['private_key_jwt (PEM)', { clientSecret: undefined, privateKey: RSA_PEM }],
    ['private_key_jwt (JWK) with DPoP', { clientSecret: undefined, privateKey: RSA_JWK, dpop: { privateKey: DPOP_JWK } }],
    ['client_secret_basic with DPoP', { dpop: { privateKey: DPOP_JWK } }],
  ] as [string, Partial<ClientCredentialsOptions>][])('OAuth errors 400/401/403 echoing the whole request, %s', async (_, options) => {
    for (const [status, code] of [
      [400, 'invalid_request'],
      [403, 'unauthorized_client'],
      [400, 'invalid_scope'],
      [401, 'invalid_client'],
    ] as const) {
      let requests = 0;
      server.use(http.post(TOKEN_URL, async (info) => (requests++, echoingError(status, code)(info))));
      const client = makeClient(options);
      const error = await failure(`getToken (${code})`, client.getToken());
      expect(error).toBeInstanceOf(OAuthError);
      expect((error as OAuthError).error).toBe(code);
      expect(error.status).toBe(status);
      // The server did echo the credentials: the error kept its text, minus them.
      expect((error as OAuthError).errorDescription).toContain('headers=');
      if (code === 'invalid_client') {
        // Within the backoff, the same error comes back without asking the server again.
        const again = await failure('getToken (invalid_client backoff)', client.getToken());
        expect(again).toBe(error);
        // Basic credentials with reserved characters are tried once more, raw (basicEncoding 'auto').
        const basic = options.clientAuth === undefined && options.privateKey === undefined;
        expect(requests).toBe(basic ? 2 : 1);
      }
      server.resetHandlers();
    }
    expect(seen.error).toBeGreaterThan(0);
  });

  it('a 200 carrying error, and error members that are the secret itself', async () => {
    server.use(
      http.post(TOKEN_URL, () =>
        HttpResponse.json({
          error: SECRET,
          error_description: BASIC,
          error_uri: formEncode(SECRET),
          access_token: accessToken('with-error'),
        }),
      ),
    );
    const error = await failure('getToken (200 with error)', makeClient().getToken());
    expect(error.code).toBe('OAUTH_ERROR');
  });

  it.each<[string, () => Response, Partial<ClientCredentialsOptions>?]>([
    ['a non-JSON body holding the token', () => new HttpResponse(`access_token=${accessToken('form')}&secret=${SECRET}`)],
    ['a JSON array', () => HttpResponse.json([accessToken('array'), SECRET])],
    ['no access_token', () => HttpResponse.json({ token: accessToken('missing'), token_type: 'Bearer' })],
    ['an access_token with a space', () => HttpResponse.json({ access_token: `${accessToken('space')} ${SECRET}` })],
    ['a malformed expires_in', () => HttpResponse.json({ access_token: accessToken('exp'), expires_in: SECRET })],
    ['a malformed token_type', () => HttpResponse.json({ access_token: accessToken('type'), token_type: `x ${SECRET}` })],
    ['an expired token', () => tokenJson(accessToken('expired'), 0)],
    ['a body that is too large', () => tokenJson(`${accessToken('large')}${'x'.repeat(2000)}`), { maxResponseBytes: 500 }],
    ['a 500 that is not an OAuth error', () => new HttpResponse(`oops ${SECRET} ${accessToken('500')}`, { status: 500 })],
    [
      'a redirect',
      () => new HttpResponse(null, { status: 302, headers: { location: `https://evil.example/?t=${accessToken('redirect')}` } }),
    ],
  ])('INVALID_RESPONSE for %s', async (_, reply, options = {}) => {
    server.use(http.post(TOKEN_URL, reply));
    const error = await failure('getToken', makeClient(options).getToken());
    expect(error.code).toBe('INVALID_RESPONSE');
  });

  it('INVALID_RESPONSE for a token that was revoked and issued again', async () => {
    server.use(
      http.post(TOKEN_URL, () => tokenJson(accessToken('reissued'))),
      http.post(REVOKE_URL, () => new HttpResponse(null, { status: 200 })),
    );
    const client = makeClient({ revocationEndpoint: REVOKE_URL });
    addToken('token', await client.getToken());
    await client.revoke();
    const error = await failure('getToken (revoked token again)', client.getToken());
    expect(error.code).toBe('INVALID_RESPONSE');
    expect(seen.revoke).toBeGreaterThan(0);
  });

  it('TIMEOUT, then retries ending in NETWORK (msw network error), with retry events', async () => {
    server.use(hangingEndpoint(TOKEN_URL).handler);
    expect((await failure('getToken (timeout)', makeClient({ timeout: 30 }).getToken())).code).toBe('TIMEOUT');
    server.resetHandlers(http.post(TOKEN_URL, () => HttpResponse.error()));
    const retried = await failure(
      'getToken (network, retried)',
      makeClient({ retry: { retries: 2, minDelay: 1, maxDelay: 2 } }).getToken(),
    );
    expect(retried.code).toBe('NETWORK');
    expect(seen.retry).toBeGreaterThan(0);
  });

  it('NETWORK: connection refused on a closed 127.0.0.1 port, for the token, revocation and discovery', async () => {
    const port = await new Promise<number>((resolve) => {
      const s = createServer().listen(0, '127.0.0.1', () => {
        const { port } = s.address() as AddressInfo;
        s.close(() => resolve(port));
      });
    });
    const base = `http://127.0.0.1:${port}`;
    const client = makeClient({ tokenEndpoint: `${base}/token`, revocationEndpoint: `${base}/revoke` });
    const error = await failure('getToken (refused)', client.getToken());
    expect(error.code).toBe('NETWORK');
    expect(error.cause).toBeDefined();
    expect((await failure('revoke (refused)', client.revoke(accessToken('refused')))).code).toBe('NETWORK');
    const discovering = makeClient({ tokenEndpoint: undefined, issuer: base });
    expect((await failure('metadata (refused)', discovering.metadata())).code).toBe('NETWORK');
  });

  it('ABORTED (before and while waiting) and CLOSED (in flight, and after close)', async () => {
    let release!: () => void;
    server.use(
      http.post(
        TOKEN_URL,
        ({ request }) =>
          new Promise<Response>((resolve) => {
            release = () => resolve(tokenJson(accessToken('late')));
            request.signal.addEventListener('abort', () => resolve(HttpResponse.error()));
          }),
      ),
    );
    const client = makeClient({ revocationEndpoint: REVOKE_URL, issuer: ISSUER });
    const controller = new AbortController();
    const aborted = client.getToken({ signal: controller.signal });
    const inFlight = client.getToken();
    controller.abort(new Error('caller gave up'));
    expect((await failure('getToken (aborted)', aborted)).code).toBe('ABORTED');
    expect((await failure('getToken (pre-aborted)', client.getToken({ signal: AbortSignal.abort() }))).code).toBe('ABORTED');
    addValue('close() result', await client.close());
    release?.();
    expect((await failure('getToken (closed in flight)', inFlight)).code).toBe('CLOSED');
    expect((await failure('getToken (after close)', client.getToken())).code).toBe('CLOSED');
    expect((await failure('revoke (after close)', client.revoke())).code).toBe('CLOSED');
    expect((await failure('metadata (after close)', client.metadata())).code).toBe('CLOSED');
    expect((await failure('fetch (after close)', client.fetch(`${API}/x`))).code).toBe('CLOSED');
    addClient('closed client', client);
  });

  it('CONFIG: no revocation endpoint, no issuer, an origin outside allowedOrigins', async () => {
    server.use(http.post(TOKEN_URL, () => tokenJson(accessToken('config'))));
    const client = makeClient();
    addToken('token', await client.getToken());
    expect((await failure('revoke (no endpoint)', client.revoke())).code).toBe('CONFIG');
    expect((await failure('metadata (no issuer)', client.metadata())).code).toBe('CONFIG');
    const api = client.createFetch({ allowedOrigins: [API] });
    expect((await failure('fetch (origin not allowed)', api(`https://evil.example/?secret=${SECRET}`))).code).toBe('CONFIG');
    const result = await client.close({ revoke: true });
    addValue('close({ revoke }) result', result);
    expect(result.errors.map((e) => e.code)).toEqual(['CONFIG']);
    for (const e of result.errors) addError('close result error', e);
  });

  it('revocation failures: OAuth errors naming the token, a 503 retried, several failing at once (AggregateError)', async () => {
    let n = 0;
    server.use(
      http.post(TOKEN_URL, () => tokenJson(accessToken(`revoke-${++n}`))),
      http.post(REVOKE_URL, echoingError(400, 'invalid_request')),
    );
    const client = makeClient({ revocationEndpoint: REVOKE_URL });
    const token = await client.getToken();
    addToken('token', token);
    const one = await failure('revoke(token)', client.revoke(token));
    expect(one).toBeInstanceOf(OAuthError);
    expect((one as OAuthError).errorDescription).toContain('token=');

    addToken('token a', await client.getToken());
    addToken('token b', await client.getToken({ scope: 'other' }));
    const many = await failure('revoke() of two', client.revoke());
    expect(many.cause).toBeInstanceOf(AggregateError);
    expect((many.cause as AggregateError).errors).toHaveLength(2);

    server.resetHandlers(http.post(REVOKE_URL, () => new HttpResponse(`busy ${SECRET}`, { status: 503, headers: { 'retry-after': '0' } })));
    const busy = makeClient({ revocationEndpoint: REVOKE_URL, retry: { retries: 1, minDelay: 1, maxDelay: 2 } });
    expect((await failure('revoke (503 retried)', busy.revoke(accessToken('busy')))).status).toBe(503);
    server.resetHandlers(http.post(REVOKE_URL, () => HttpResponse.error()));
    expect((await failure('revoke (network)', busy.revoke(accessToken('neterr')))).code).toBe('NETWORK');
  });

  it('close({ revoke: true }) reporting revocation errors and a TIMEOUT', async () => {
    let n = 0;
    server.use(
      http.post(TOKEN_URL, () => tokenJson(accessToken(`close-${++n}`))),
      http.post(REVOKE_URL, echoingError(401, 'invalid_client')),
    );
    const failing = makeClient({ revocationEndpoint: REVOKE_URL });
    addToken('token', await failing.getToken());
    const result = await failing.close({ revoke: true });
    addValue('close({ revoke }) result', result);
    expect(result.errors.map((e) => e.code)).toEqual(['OAUTH_ERROR']);
    for (const e of result.errors) addError('close result error', e);

    server.resetHandlers(
      http.post(TOKEN_URL, () => tokenJson(accessToken(`close-${++n}`))),
      hangingEndpoint(REVOKE_URL).handler,
    );
    const slow = makeClient({ revocationEndpoint: REVOKE_URL });
    addToken('token', await slow.getToken());
    const timedOut = await slow.close({ revoke: true, timeout: 30 });
    addValue('close({ revoke, timeout }) result', timedOut);
    expect(timedOut.errors.map((e) => e.code)).toEqual(['TIMEOUT']);
    for (const e of timedOut.errors) addError('close result error', e);
  });

  it.each<[string, (request: Request) => Response | Promise<Response>, string]>([
    ['404 at both locations', () => new HttpResponse(SECRET, { status: 404 }), 'INVALID_RESPONSE'],
    ['a 500', () => new HttpResponse(`down ${SECRET}`, { status: 500 }), 'INVALID_RESPONSE'],
    [
      'an OAuth error echoing the request',
      async (request) =>
        HttpResponse.json({ error: 'invalid_request', error_description: `${await echo(request)} ${SECRET}` }, { status: 400 }),
      'OAUTH_ERROR',
    ],
    ['a body that is not JSON', () => new HttpResponse(`{"issuer": "${SECRET}`), 'INVALID_RESPONSE'],
    [
      'metadata for another issuer, named after the secret',
      () => HttpResponse.json({ issuer: `https://${SECRET}.example`, token_endpoint: TOKEN_URL }),
      'INVALID_RESPONSE',
    ],
    [
      'an http: token endpoint',
      () => HttpResponse.json({ issuer: ISSUER, token_endpoint: `http://auth.example.com/${SECRET}` }),
      'INVALID_RESPONSE',
    ],
    ['no token endpoint', () => HttpResponse.json({ issuer: ISSUER, revocation_endpoint: REVOKE_URL }), 'INVALID_RESPONSE'],
  ])('discovery failures: %s', async (_, reply, code) => {
    server.use(http.get(`${ISSUER}/.well-known/*`, ({ request }) => reply(request)));
    const client = makeClient({ tokenEndpoint: undefined, issuer: ISSUER });
    expect((await failure('getToken (discovery)', client.getToken())).code).toBe(code);
    expect((await failure('metadata()', client.metadata())).code).toBe(code);
  });

  it('a secret echoed by a discovery server after the client has used the token endpoint', async () => {
    server.use(
      http.post(TOKEN_URL, () => tokenJson(accessToken('then-discover'))),
      http.get(`${ISSUER}/.well-known/*`, () => HttpResponse.json({ issuer: `${ISSUER}/${formEncode(SECRET)}/${BASIC}` })),
    );
    const client = makeClient({ issuer: ISSUER });
    addToken('token', await client.getToken());
    const error = await failure('revoke (discovery of the revocation endpoint)', client.revoke());
    expect(error.code).toBe('INVALID_RESPONSE');
    expect(error.message).toContain('[REDACTED]');
  });

  it('token stores whose every method throws: reported as store errors, tokens still served', async () => {
    server.use(
      http.post(TOKEN_URL, () => tokenJson(accessToken('store'))),
      http.post(REVOKE_URL, () => new HttpResponse(null, { status: 200 })),
    );
    const memory = new MemoryTokenStore();
    type Failing = 'get' | 'set' | 'delete' | 'lock' | 'release';
    const failingAt = (method: Failing): TokenStore => ({
      get: (key) => (method === 'get' ? Promise.reject(new Error('get failed')) : memory.get(key)),
      set: (key, token, ttl) => (method === 'set' ? Promise.reject(new Error('set failed')) : memory.set(key, token, ttl)),
      delete: (key, token) => (method === 'delete' ? Promise.reject(new Error('delete failed')) : memory.delete(key, token)),
      lock: async (key, ttl) => {
        if (method === 'lock') throw new Error('lock failed');
        const lock = await memory.lock(key, ttl);
        return (
          lock && {
            fencingToken: lock.fencingToken,
            release: () => (method === 'release' ? Promise.reject(new Error('release failed')) : lock.release()),
          }
        );
      },
    });
    for (const method of ['get', 'set', 'delete', 'lock', 'release'] as const) {
      const before = seen.error;
      const client = makeClient({ store: failingAt(method), revocationEndpoint: REVOKE_URL, scope: method });
      const token = await client.getToken();
      addToken(`token (store failing at ${method})`, token);
      await client.revoke();
      await sleep(5);
      expect(seen.error, `a store error event for ${method}`).toBeGreaterThan(before);
    }
  });

  it('the fetch wrapper: 401 with a fresh token, too many redirects, a redirect to a non-http URL', async () => {
    let n = 0;
    server.use(
      http.post(TOKEN_URL, () => tokenJson(accessToken(`fetch-${++n}`))),
      http.get(
        `${API}/stale`,
        () => new HttpResponse(null, { status: 401, headers: { 'www-authenticate': 'Bearer error="invalid_token"' } }),
      ),
      http.get(`${API}/loop`, () => new HttpResponse(null, { status: 302, headers: { location: `${API}/loop` } })),
      http.get(`${API}/data`, () => new HttpResponse(null, { status: 302, headers: { location: `data:text/plain,${SECRET}` } })),
    );
    const client = makeClient();
    expect((await client.fetch(`${API}/stale`)).status).toBe(401);
    expect(await failure('fetch (too many redirects)', client.fetch(`${API}/loop`))).toBeInstanceOf(TypeError);
    await failure('fetch (redirect to data:)', client.fetch(`${API}/data`));
  });

  it('successful paths: tokens, token events, logger calls, the client and its close result', async () => {
    let n = 0;
    server.use(
      http.post(TOKEN_URL, () => tokenJson(accessToken(`ok-${++n}`))),
      http.post(REVOKE_URL, () => new HttpResponse(null, { status: 200 })),
    );
    const client = makeClient({ revocationEndpoint: REVOKE_URL, dpop: { privateKey: DPOP_JWK } });
    const token = await client.getToken();
    expect(token.accessToken).toBe(accessToken('ok-1'));
    addToken('token', token);
    addToken('forced token', await client.getToken({ forceRefresh: true }));
    addClient('client', client);
    add('toJSON', JSON.stringify(client.toJSON()));
    const result = await client.close({ revoke: true });
    addValue('close({ revoke }) result', result);
    expect(result.revoked).toBeGreaterThan(0);
    expect(seen.token).toBeGreaterThan(0);
    expect(seen.logger).toBeGreaterThan(0);
    expect(seen.channel).toBeGreaterThan(0);
  });

  it('a token shows its accessToken to no printer, not even with hidden properties, yet reads it when asked', async () => {
    server.use(http.post(TOKEN_URL, () => tokenJson(accessToken('hidden'))));
    const token = await makeClient().getToken();
    addToken('token', token);
    expect(inspect(token, { showHidden: true, getters: true, depth: 5 })).not.toContain(accessToken('hidden'));
    expect(format('%o', token)).not.toContain(accessToken('hidden'));
    expect(inspect(token)).not.toContain(accessToken('hidden'));
    const { accessToken: read } = token;
    expect(read).toBe(accessToken('hidden'));
  });
});

describe('a failing RedisTokenStore (real redis-server)', () => {
  let redisServer: RedisServer;
  let redis: Redis;
  beforeAll(async () => {
    redisServer = await RedisServer.start();
    // Read-only access to the token entries: get and lock work, storing a token fails inside the script.
    expect(await rawCommand(redisServer.port, 'ACL SETUSER hygiene on >pw +@all %R~*:token ~*:lock ~*:fence')).toContain('OK');
    redis = new Redis({ host: '127.0.0.1', port: redisServer.port, username: 'hygiene', password: 'pw', maxRetriesPerRequest: 1 });
  }, 30_000);
  afterAll(async () => {
    redis?.disconnect();
    await redisServer?.stop();
  });

  it('keeps the token out of the store error (ioredis attaches the command arguments to its errors)', async () => {
    const store = new RedisTokenStore({ client: redis });
    const stored: StoredToken = {
      accessToken: accessToken('redis-direct'),
      tokenType: 'Bearer',
      expiresAt: Date.now() + 60_000,
      sentAt: Date.now(),
      extra: {},
    };
    const direct = await failure('RedisTokenStore.set', store.set('k', stored, 60_000));
    expect(String(direct.message)).toMatch(/NOPERM/);

    server.use(http.post(TOKEN_URL, () => tokenJson(accessToken('redis'))));
    const before = seen.error;
    const client = makeClient({ store });
    const token = await client.getToken();
    addToken('token (redis store failing)', token);
    expect(seen.error, 'the store error event').toBeGreaterThan(before);
  });
});
