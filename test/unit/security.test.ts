import { inspect } from 'node:util';
import { http, HttpResponse } from 'msw';
import { describe, expect, it } from 'vitest';
import { ClientCredentialsClient, type ClientCredentialsOptions } from '../../src/index.js';
import { TOKEN_URL, useMswServer } from '../helpers/msw.js';
import { SECRET, heldEndpoint, leakyToken, rejectionOf, tokenJson, useClients } from '../helpers/core.js';

const server = useMswServer();
const makeClient = useClients();

const build = (options: Partial<ClientCredentialsOptions>) =>
  new ClientCredentialsClient({ clientId: 'svc-a', tokenEndpoint: TOKEN_URL, ...options });

describe('insecure endpoints', () => {
  it.each([
    'http://auth.example.com/oauth2/token',
    'http://10.0.0.1/token',
    'http://localhost.evil.example/token',
    'http://127.0.0.1.nip.io/token',
    'http://[::2]/token',
  ])('refuses http: token endpoint %s with a TypeError naming tokenEndpoint', (url) => {
    expect(() => build({ tokenEndpoint: url })).toThrow(TypeError);
    expect(() => build({ tokenEndpoint: url })).toThrow(/tokenEndpoint/);
  });

  it('refuses an http: issuer and an http: revocationEndpoint, naming them', () => {
    expect(() => build({ tokenEndpoint: undefined, issuer: 'http://auth.example.com' })).toThrow(/`issuer`/);
    expect(() => build({ revocationEndpoint: 'http://auth.example.com/revoke' })).toThrow(/`revocationEndpoint`/);
  });

  it.each(['http://127.0.0.1:8080/token', 'http://127.9.8.7/token', 'http://localhost:3000/token', 'http://[::1]:8443/token'])(
    'accepts the loopback http: endpoint %s',
    (url) => {
      expect(() => build({ tokenEndpoint: url })).not.toThrow();
    },
  );

  it('accepts any http: endpoint with allowInsecureHttp: true', () => {
    expect(() => build({ tokenEndpoint: 'http://auth.example.com/token', allowInsecureHttp: true })).not.toThrow();
  });

  it.each(['ftp://auth.example.com/token', 'file:///etc/passwd', 'not a url', 'https://auth.example.com/token#frag'])(
    'refuses the token endpoint %s with a TypeError naming tokenEndpoint',
    (url) => {
      expect(() => build({ tokenEndpoint: url })).toThrow(/tokenEndpoint/);
    },
  );

  it.each(['tokenEndpoint', 'revocationEndpoint'] as const)('refuses a %s with credentials in the URL, without repeating them', (name) => {
    let caught: unknown;
    try {
      build({ [name]: `https://svc-a:${SECRET}@auth.example.com/oauth2/x` });
    } catch (error) {
      caught = error;
    }
    expect(caught).toBeInstanceOf(TypeError);
    expect((caught as TypeError).message).toContain(`\`${name}\``);
    expect((caught as TypeError).message).not.toContain(SECRET);
  });

  it('sends requests to a loopback http: endpoint', async () => {
    const url = 'http://127.0.0.1:9/oauth2/token';
    server.use(http.post(url, () => tokenJson('loopback-token')));
    const client = makeClient({ tokenEndpoint: url });
    expect((await client.getToken()).accessToken).toBe('loopback-token');
  });
});

/** Everything an error shows when logged: message, stack, inspect output, along the whole cause chain. */
function everythingShown(error: unknown, depth = 0): string {
  if (depth > 10 || error === undefined || error === null) return '';
  if (typeof error !== 'object') return String(error);
  const e = error as Error & { errors?: unknown[] };
  const parts = [String(e.message), String(e.stack), inspect(e, { depth: 6 }), JSON.stringify(e) ?? ''];
  parts.push(everythingShown(e.cause, depth + 1));
  for (const inner of e.errors ?? []) parts.push(everythingShown(inner, depth + 1));
  return parts.join('\n');
}

const basicCredentials = Buffer.from(`svc-a:${SECRET}`).toString('base64');
function expectNoSecrets(text: string) {
  expect(text).not.toContain(SECRET);
  expect(text).not.toContain(basicCredentials);
  expect(text).not.toContain('AT-must-never-leak');
}

describe('no secrets in output', () => {
  it('keeps the secret and tokens out of util.inspect, JSON.stringify and String of the client', async () => {
    server.use(http.post(TOKEN_URL, () => tokenJson(leakyToken(1))));
    const client = makeClient({ scope: 'orders:read' });
    await client.getToken();
    for (const text of [
      inspect(client),
      inspect(client, { showHidden: true, depth: Infinity }),
      inspect({ nested: { client } }, { depth: Infinity }),
      JSON.stringify(client),
      JSON.stringify({ client }),
      String(client),
    ]) {
      expectNoSecrets(text);
    }
    expect(inspect(client)).toContain('svc-a');
    expect(JSON.parse(JSON.stringify(client))).toMatchObject({ clientId: 'svc-a', tokenEndpoint: TOKEN_URL });
  });

  it.each<[string, () => Response, Partial<ClientCredentialsOptions>?]>([
    ['an OAuth error', () => HttpResponse.json({ error: 'invalid_client' }, { status: 401 })],
    [
      'an OAuth error with client_secret_post',
      () => HttpResponse.json({ error: 'invalid_client' }, { status: 401 }),
      { clientAuth: 'client_secret_post' },
    ],
    ['a 200 with both error and access_token', () => HttpResponse.json({ error: 'server_error', access_token: leakyToken(2) })],
    ['a token with a malformed expires_in', () => HttpResponse.json({ access_token: leakyToken(3), expires_in: 'soon' })],
    ['a token with a malformed token_type', () => HttpResponse.json({ access_token: leakyToken(4), token_type: 'a b' })],
    ['an access_token with a space', () => HttpResponse.json({ access_token: `${leakyToken(5)} x` })],
    ['a token that is already expired', () => tokenJson(leakyToken(6), 0)],
    ['a token in a body that is too large', () => tokenJson(leakyToken(7), 3600, { pad: 'x'.repeat(2000) }), { maxResponseBytes: 500 }],
    ['a token in a non-JSON body', () => new HttpResponse(`access_token=${leakyToken(8)}`)],
    ['a network error', () => HttpResponse.error()],
    ['a 503 after retries', () => new HttpResponse('busy', { status: 503 }), { retry: { retries: 2, minDelay: 1, maxDelay: 5 } }],
  ])('keeps them out of the error for %s', async (_, reply, options = {}) => {
    server.use(http.post(TOKEN_URL, reply));
    const error = await rejectionOf(makeClient(options).getToken());
    expectNoSecrets(everythingShown(error));
  });

  it('keeps them out of TIMEOUT, ABORTED and CLOSED errors', async () => {
    const held = heldEndpoint();
    server.use(held.handler);
    const timedOut = await rejectionOf(makeClient({ timeout: 20 }).getToken());
    expect(timedOut.code).toBe('TIMEOUT');

    const client = makeClient();
    const controller = new AbortController();
    const aborted = client.getToken({ signal: controller.signal });
    const closed = client.getToken();
    await held.arrived(2);
    controller.abort();
    const abortedError = await rejectionOf(aborted);
    expect(abortedError.code).toBe('ABORTED');
    await client.close();
    const closedError = await rejectionOf(closed);
    expect(closedError.code).toBe('CLOSED');
    for (const error of [timedOut, abortedError, closedError]) expectNoSecrets(everythingShown(error));
  });

  it('keeps the secret out of option errors', () => {
    const attempts: Partial<ClientCredentialsOptions>[] = [
      { clientSecret: SECRET, timeout: -1 },
      { clientSecret: SECRET, clientAuth: 'private_key_jwt' as never },
      { clientSecret: SECRET, extraParams: { client_secret: SECRET } },
      { clientSecret: SECRET, extraParams: { other: 5 as never } },
      { clientSecret: SECRET, tokenEndpoint: `https://svc-a:${SECRET}@auth.example.com/token#x` },
    ];
    for (const options of attempts) {
      let caught: unknown;
      try {
        build(options);
      } catch (error) {
        caught = error;
      }
      expect(caught).toBeInstanceOf(TypeError);
      expectNoSecrets(everythingShown(caught));
    }
  });
});
