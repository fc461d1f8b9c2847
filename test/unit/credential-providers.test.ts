import { mkdirSync, mkdtempSync, renameSync, rmSync, symlinkSync, unlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { inspect } from 'node:util';
import { generateKeyPairSync, type KeyObject } from 'node:crypto';
import { decodeProtectedHeader, SignJWT } from 'jose';
import { HttpResponse } from 'msw';
import { afterAll, describe, expect, it } from 'vitest';
import { secretFromFile, TokenError } from '../../src/index.js';
import { rejectionOf, SECRET, tokenJson, useClients } from '../helpers/core.js';
import { type SeenRequest, tokenEndpoint, useMswServer } from '../helpers/msw.js';

const server = useMswServer();
const makeClient = useClients();
const dir = mkdtempSync(join(tmpdir(), 'm2m-credentials-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const OLD = 'old-secret-must-never-leak-1';
const NEW = 'new-secret-must-never-leak-2';

/** The secret of a client_secret_basic request. */
const secretOf = (seen: SeenRequest) => Buffer.from(seen.headers.get('authorization')!.slice(6), 'base64').toString().split(':')[1];

/** A token endpoint that accepts only `accepted()` as the secret; anything else gets `refusal()`. */
function secretCheckingEndpoint(accepted: () => string, refusal = () => HttpResponse.json({ error: 'invalid_client' }, { status: 401 })) {
  const endpoint = tokenEndpoint((n, seen) => (secretOf(seen) === accepted() ? tokenJson(`tok-${n}`) : refusal()));
  server.use(endpoint.handler);
  return endpoint;
}

describe('clientSecret given as a function', () => {
  it('is asked for the secret on every token request', async () => {
    let secret = OLD;
    const endpoint = secretCheckingEndpoint(() => secret);
    const client = makeClient({ clientSecret: () => secret });
    await client.getToken();
    secret = NEW;
    await client.getToken({ forceRefresh: true });
    expect(endpoint.seen.map(secretOf)).toEqual([OLD, NEW]);
  });

  it('after invalid_client, sends the request again at once when the provider now returns a different secret', async () => {
    let serverSecret = OLD;
    let providerSecret = OLD;
    const endpoint = secretCheckingEndpoint(
      () => serverSecret,
      () => {
        // The provider learns of the new secret only after the server refused the old one.
        providerSecret = NEW;
        return HttpResponse.json({ error: 'invalid_client' }, { status: 401 });
      },
    );
    const client = makeClient({ clientSecret: async () => providerSecret });
    await client.getToken();
    serverSecret = NEW;
    await expect(client.getToken({ forceRefresh: true })).resolves.toMatchObject({ accessToken: 'tok-3' });
    expect(endpoint.seen.map(secretOf)).toEqual([OLD, OLD, NEW]);
  });

  it('retries after a bare 401 without an OAuth error body too', async () => {
    let providerSecret = OLD;
    const endpoint = secretCheckingEndpoint(
      () => NEW,
      () => {
        providerSecret = NEW;
        return new HttpResponse('Unauthorized', { status: 401 });
      },
    );
    const client = makeClient({ clientSecret: () => providerSecret });
    await expect(client.getToken()).resolves.toMatchObject({ accessToken: 'tok-2' });
    expect(endpoint.seen.map(secretOf)).toEqual([OLD, NEW]);
  });

  it('does not send the same refused secret again: invalid_client is the answer', async () => {
    const endpoint = secretCheckingEndpoint(() => NEW);
    const client = makeClient({ clientSecret: () => OLD });
    const error = await rejectionOf(client.getToken());
    expect(error).toMatchObject({ code: 'OAUTH_ERROR', error: 'invalid_client' });
    expect(endpoint.seen).toHaveLength(1);
  });

  it('the invalid_client fast-fail lets a request with a new secret through', async () => {
    let providerSecret = OLD;
    const endpoint = secretCheckingEndpoint(() => NEW);
    const client = makeClient({ clientSecret: () => providerSecret, invalidClientBackoff: 60_000 });
    expect(await rejectionOf(client.getToken())).toMatchObject({ error: 'invalid_client' });
    // Within the backoff, the same secret fails fast, without a request.
    expect(await rejectionOf(client.getToken())).toMatchObject({ error: 'invalid_client' });
    expect(endpoint.seen).toHaveLength(1);
    providerSecret = NEW;
    await expect(client.getToken()).resolves.toMatchObject({ accessToken: 'tok-2' });
    expect(endpoint.seen.map(secretOf)).toEqual([OLD, NEW]);
  });

  it('redacts a rotated secret that the server echoes into its error', async () => {
    let providerSecret = OLD;
    server.use(
      tokenEndpoint((_n, seen) =>
        HttpResponse.json(
          { error: 'server_error', error_description: `bad ${secretOf(seen)} ${seen.headers.get('authorization')}` },
          { status: 400 },
        ),
      ).handler,
    );
    const client = makeClient({ clientSecret: () => providerSecret });
    await rejectionOf(client.getToken());
    providerSecret = NEW;
    const error = await rejectionOf(client.getToken());
    expect(error.message).toContain('[REDACTED]');
    expect(inspect(error, { depth: 10 })).not.toContain(NEW);
  });
});

describe('a provider that fails', () => {
  it.each([
    [
      'throws',
      () => {
        throw new Error('vault unreachable');
      },
    ],
    ['rejects', () => Promise.reject(new Error('vault unreachable'))],
    ['returns a number', () => 42],
    ['returns an object holding the secret', () => ({ secret: SECRET })],
    ['returns an empty string', () => ''],
  ])('%s: getToken() rejects with CONFIG, without what it returned, and the provider is asked again next time', async (_, failing) => {
    const endpoint = tokenEndpoint();
    server.use(endpoint.handler);
    let calls = 0;
    const client = makeClient({
      clientSecret: (() => (++calls === 1 ? failing() : SECRET)) as () => string,
    });
    const error = await rejectionOf(client.getToken());
    expect(TokenError.is(error)).toBe(true);
    expect(error.code).toBe('CONFIG');
    expect(error.message).toMatch(/`clientSecret`/);
    expect(inspect(error, { depth: 10 })).not.toContain(SECRET);
    expect(endpoint.seen).toHaveLength(0);
    await expect(client.getToken()).resolves.toMatchObject({ accessToken: 'tok-1' });
    expect(calls).toBe(2);
  });
});

describe('secretFromFile', () => {
  it('reads the file without its trailing newline and reads it again when it changes', async () => {
    const path = join(dir, 'secret');
    writeFileSync(path, `${OLD}\n`);
    const read = secretFromFile(path);
    expect(await read()).toBe(OLD);
    writeFileSync(path, `${NEW}-longer\r\n`);
    expect(await read()).toBe(`${NEW}-longer`);
  });

  it('sees a Kubernetes-style symlink swap of the mounted directory', async () => {
    const root = mkdtempSync(join(dir, 'mount-'));
    const v1 = join(root, '..v1');
    const v2 = join(root, '..v2');
    for (const [d, s] of [
      [v1, OLD],
      [v2, NEW],
    ] as const) {
      rmSync(d, { recursive: true, force: true });
      mkdirSync(d);
      writeFileSync(join(d, 'secret'), s);
    }
    symlinkSync('..v1', join(root, '..data'));
    symlinkSync('..data/secret', join(root, 'secret'));
    const read = secretFromFile(join(root, 'secret'));
    expect(await read()).toBe(OLD);
    // The atomic swap: a new ..data link renamed over the old one.
    symlinkSync('..v2', join(root, '..data_tmp'));
    renameSync(join(root, '..data_tmp'), join(root, '..data'));
    expect(await read()).toBe(NEW);
  });

  it('a file that cannot be read makes getToken() reject with CONFIG', async () => {
    const path = join(dir, 'missing');
    writeFileSync(path, SECRET);
    const client = makeClient({ clientSecret: secretFromFile(path) });
    unlinkSync(path);
    const error = await rejectionOf(client.getToken());
    expect(error).toMatchObject({ code: 'CONFIG' });
  });
});

describe('privateKey given as a function', () => {
  const jwkWithKid = (key: KeyObject, kid: string) => ({ ...(key.export({ format: 'jwk' }) as object), kid });
  it('signs with the key it returns now: a new kid as soon as the key changes', async () => {
    const first = generateKeyPairSync('ec', { namedCurve: 'P-256' }).privateKey;
    const second = generateKeyPairSync('ec', { namedCurve: 'P-256' }).privateKey;
    let current = jwkWithKid(first, 'k1');
    const endpoint = tokenEndpoint();
    server.use(endpoint.handler);
    const client = makeClient({ clientSecret: undefined, privateKey: () => current });
    await client.getToken();
    current = jwkWithKid(second, 'k2');
    await client.getToken({ forceRefresh: true });
    expect(endpoint.seen.map((s) => decodeProtectedHeader(s.form.get('client_assertion')!).kid)).toEqual(['k1', 'k2']);
  });

  it('a provider returning something that is not a key rejects with CONFIG', async () => {
    const client = makeClient({ clientSecret: undefined, privateKey: () => ({ kty: 'EC', d: SECRET }) });
    const error = await rejectionOf(client.getToken());
    expect(error).toMatchObject({ code: 'CONFIG' });
    expect(error.message).toMatch(/`privateKey`/);
    expect(inspect(error, { depth: 10 })).not.toContain(SECRET);
  });
});

/** A signed JWT expiring `exp` (epoch s). */
async function jwt(exp: number, sub = 'svc-a'): Promise<string> {
  const key = new TextEncoder().encode('k'.repeat(32));
  return new SignJWT({ sub }).setProtectedHeader({ alg: 'HS256' }).setExpirationTime(exp).sign(key);
}
const inAnHour = () => Math.floor(Date.now() / 1000) + 3600;

describe('clientAssertion.token: an assertion made elsewhere', () => {
  it('is sent as client_assertion with the jwt-bearer type by default', async () => {
    const assertion = await jwt(inAnHour());
    const endpoint = tokenEndpoint();
    server.use(endpoint.handler);
    await makeClient({ clientSecret: undefined, clientAssertion: { token: assertion } }).getToken();
    const form = endpoint.seen[0]!.form;
    expect(form.get('client_assertion')).toBe(assertion);
    expect(form.get('client_assertion_type')).toBe('urn:ietf:params:oauth:client-assertion-type:jwt-bearer');
    expect(form.get('client_id')).toBe('svc-a');
    expect(endpoint.seen[0]!.headers.get('authorization')).toBeNull();
  });

  it('is sent with the type given, for example a SPIFFE JWT-SVID', async () => {
    const endpoint = tokenEndpoint();
    server.use(endpoint.handler);
    const type = 'urn:ietf:params:oauth:client-assertion-type:jwt-spiffe';
    await makeClient({ clientSecret: undefined, clientAssertion: { token: await jwt(inAnHour()), type } }).getToken();
    expect(endpoint.seen[0]!.form.get('client_assertion_type')).toBe(type);
  });

  it('every retry gets the current assertion', async () => {
    const endpoint = tokenEndpoint((n) => (n === 1 ? new HttpResponse(null, { status: 503 }) : tokenJson(`tok-${n}`)));
    server.use(endpoint.handler);
    const assertions = [await jwt(inAnHour(), 'first'), await jwt(inAnHour(), 'second')];
    let calls = 0;
    const client = makeClient({
      clientSecret: undefined,
      clientAssertion: { token: () => assertions[calls++]! },
      retry: { retries: 1, minDelay: 1 },
    });
    await client.getToken();
    expect(endpoint.seen.map((s) => s.form.get('client_assertion'))).toEqual(assertions);
  });

  it('is read from { file } again whenever the file changes', async () => {
    const path = join(dir, 'assertion');
    const first = await jwt(inAnHour(), 'first');
    const second = await jwt(inAnHour(), 'second-one');
    writeFileSync(path, `${first}\n`);
    const endpoint = tokenEndpoint();
    server.use(endpoint.handler);
    const client = makeClient({ clientSecret: undefined, clientAssertion: { token: { file: path } } });
    await client.getToken();
    writeFileSync(path, second);
    await client.getToken({ forceRefresh: true });
    expect(endpoint.seen.map((s) => s.form.get('client_assertion'))).toEqual([first, second]);
  });

  it('an expired assertion is never sent: CONFIG, without the assertion in the error', async () => {
    const expired = await jwt(Math.floor(Date.now() / 1000) - 10);
    const endpoint = tokenEndpoint();
    server.use(endpoint.handler);
    const error = await rejectionOf(makeClient({ clientSecret: undefined, clientAssertion: { token: () => expired } }).getToken());
    expect(error).toMatchObject({ code: 'CONFIG' });
    expect(error.message).toMatch(/`clientAssertion.token` gave an assertion that expired at/);
    expect(inspect(error, { depth: 10 })).not.toContain(expired);
    expect(endpoint.seen).toHaveLength(0);
  });
});

describe('options', () => {
  it.each([
    [{ clientSecret: 42 }, /`clientSecret`/],
    [{ clientSecret: undefined, clientAssertion: { token: '' } }, /`clientAssertion.token`/],
    [{ clientSecret: undefined, clientAssertion: { token: { file: 1 } } }, /`clientAssertion.token`/],
    [{ clientSecret: undefined, clientAssertion: { token: 'a.b.c', lifetime: 10 } }, /`clientAssertion.lifetime`/],
    [{ clientSecret: undefined, clientAssertion: { type: 'x' } }, /`clientAssertion.type`/],
    [{ clientAssertion: { token: 'a.b.c' }, clientAuth: 'client_secret_basic' }, /`clientAuth`/],
    [{ refreshTokens: 'yes' }, /`refreshTokens`/],
  ])('%o is a TypeError naming the option', (options, name) => {
    expect(() => makeClient(options as never)).toThrow(name);
  });
});
