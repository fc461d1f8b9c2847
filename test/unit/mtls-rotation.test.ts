/**
 * A rotating client certificate (`tls` as a provider, `tlsFromFiles`), against real https servers on
 * 127.0.0.1 that ask for a client certificate and record the one of every TLS handshake. The token
 * endpoint binds each token to the certificate of its connection (RFC 8705 `cnf.x5t#S256`) and the
 * resource at /api/* accepts a token only on a connection presenting that certificate, as a resource
 * server checking bound tokens does. Certificates are made at test time.
 */
import { mkdtempSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { once } from 'node:events';
import { createServer, type Server } from 'node:https';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { TLSSocket } from 'node:tls';
import { inspect } from 'node:util';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { MemoryTokenStore, type TlsOptions, TokenError, type TokenStore, tlsFromFiles } from '../../src/index.js';
import { createPki, pemBody, type TestCertificate, type TestPki, x5tS256 } from '../helpers/certs.js';
import { type Deferred, deferred, leakyToken, rejectionOf, typeErrorOf, useClients, within } from '../helpers/core.js';
import { waitUntil } from '../helpers/time.js';

/** One request a server saw, with the certificate of its connection (`x5t#S256`). */
interface Seen {
  readonly path: string;
  readonly certificate: string | undefined;
}

let pki: TestPki;
/** Asks for a client certificate and takes any. */
let server: Server;
let origin: string;
/** Refuses, during the TLS handshake, client certificates its CA did not issue. */
let strict: Server;
let strictOrigin: string;
const seen: Seen[] = [];
/** The client certificate of every TLS handshake, in order. */
const handshakes: (string | undefined)[] = [];
/** The certificate each token was issued for. */
const boundTo = new Map<string, string | undefined>();
let issued = 0;
/** When set, the token endpoint refuses other certificates: an OAuth `invalid_client` or a bare 401. */
let registered: { readonly certificate: string; readonly refusal: 'invalid_client' | 'bare 401' } | undefined;
/** When set, the next token request (or /api/slow request) waits for it before being answered. */
let holdToken: Deferred<void> | undefined;
let holdSlow: Deferred<void> | undefined;

const certificateOf = (socket: TLSSocket) => {
  const raw = socket.getPeerCertificate().raw;
  return raw === undefined ? undefined : x5tS256(raw);
};

function handler(req: import('node:http').IncomingMessage, res: import('node:http').ServerResponse) {
  req.resume();
  req.on('end', async () => {
    const path = req.url ?? '/';
    const certificate = certificateOf(req.socket as TLSSocket);
    seen.push({ path, certificate });
    const json = (status: number, body: unknown) => {
      res.writeHead(status, { 'content-type': 'application/json' });
      res.end(JSON.stringify(body));
    };
    if (path === '/token') {
      const hold = holdToken;
      holdToken = undefined;
      if (hold !== undefined) await hold.promise;
      if (registered !== undefined && certificate !== registered.certificate) {
        if (registered.refusal === 'bare 401') return res.writeHead(401).end();
        return json(401, { error: 'invalid_client' });
      }
      const token = leakyToken(++issued);
      boundTo.set(token, certificate);
      return json(200, { access_token: token, token_type: 'Bearer', expires_in: 3600 });
    }
    if (path === '/.well-known/oauth-authorization-server') {
      const base = `https://127.0.0.1:${(req.socket as TLSSocket).localPort}`;
      return json(200, { issuer: base, token_endpoint: `${base}/plain/token`, mtls_endpoint_aliases: { token_endpoint: `${base}/token` } });
    }
    if (path.startsWith('/api/')) {
      if (path === '/api/slow') {
        const hold = holdSlow;
        holdSlow = undefined;
        await hold?.promise;
      }
      const token = req.headers.authorization?.replace(/^Bearer /, '') ?? '';
      // A certificate-bound token is accepted only with the certificate it is bound to.
      return boundTo.get(token) === certificate && certificate !== undefined
        ? json(200, { ok: true })
        : json(401, { error: 'invalid_token' });
    }
    json(404, { error: 'not_found' });
  });
}

async function listen(s: Server): Promise<string> {
  s.on('secureConnection', (socket: TLSSocket) => handshakes.push(certificateOf(socket)));
  s.listen(0, '127.0.0.1');
  await once(s, 'listening');
  return `https://127.0.0.1:${(s.address() as AddressInfo).port}`;
}

const dir = mkdtempSync(join(tmpdir(), 'm2m-mtls-rotation-'));

beforeAll(async () => {
  pki = await createPki();
  const tls = { cert: pki.server.cert, key: pki.server.key, requestCert: true };
  server = createServer({ ...tls, rejectUnauthorized: false }, handler);
  origin = await listen(server);
  strict = createServer({ ...tls, rejectUnauthorized: true, ca: pki.ca.cert }, handler);
  strictOrigin = await listen(strict);
});
afterAll(async () => {
  for (const s of [server, strict]) {
    s.closeAllConnections();
    await new Promise((resolve) => s.close(resolve));
  }
  rmSync(dir, { recursive: true, force: true });
});

const newClient = useClients({ clientId: 'svc-r', retry: false });
afterEach(() => {
  seen.length = 0;
  handshakes.length = 0;
  registered = undefined;
  holdToken = undefined;
  holdSlow = undefined;
});

const tlsOf = (certificate: TestCertificate): TlsOptions => ({ cert: certificate.cert, key: certificate.key, ca: pki.ca.cert });

/** A `tls` provider returning `current`'s certificate, counting its calls. */
function switchable(first: TestCertificate) {
  const state = { current: first, calls: 0 };
  const provider = () => {
    state.calls++;
    return tlsOf(state.current);
  };
  return { state, provider };
}

const tokenRequests = () => seen.filter((s) => s.path === '/token');

/**
 * `inner` as a shared store whose first read waits until `release()`: a token request reading the store
 * while the test changes the certificate. `reads()` counts the reads.
 */
function firstReadHeld(inner: Pick<TokenStore, 'get' | 'set' | 'delete' | 'lock'>) {
  const hold = deferred();
  let reads = 0;
  const store: TokenStore = {
    shared: true,
    get: async (key) => {
      if (reads++ === 0) await hold.promise;
      return inner.get(key);
    },
    set: (key, token, ttl) => inner.set(key, token, ttl),
    delete: (key, accessToken) => inner.delete(key, accessToken),
    ...(inner.lock === undefined ? {} : { lock: (key: string, ttl: number) => inner.lock!(key, ttl) }),
  };
  return { store, reads: () => reads, release: () => hold.resolve() };
}

/**
 * `client.getToken()`, during whose store read (held) the certificate changes to `otherClient`: another
 * key's token request learns of it.
 */
async function getTokenAcrossChange(
  client: { getToken(options?: { scope?: string }): Promise<{ accessToken: string }> },
  held: ReturnType<typeof firstReadHeld>,
  state: { current: TestCertificate },
) {
  const first = client.getToken();
  await waitUntil(() => held.reads() === 1);
  state.current = pki.otherClient;
  await client.getToken({ scope: 'other' });
  held.release();
  return within(first);
}

/** A loopback port nothing listens on: a request there fails to connect, and has the provider asked. */
async function vacantPort(): Promise<number> {
  const vacant = createServer();
  vacant.listen(0, '127.0.0.1');
  await once(vacant, 'listening');
  const { port } = vacant.address() as AddressInfo;
  await new Promise((resolve) => vacant.close(resolve));
  return port;
}

describe('tls given as a function', () => {
  it('is asked before each token request, not for cached tokens or resource requests; the default method is tls_client_auth', async () => {
    const { state, provider } = switchable(pki.client);
    const client = newClient({ tokenEndpoint: `${origin}/token`, tls: provider });
    expect(client.toJSON().clientAuth).toBe('tls_client_auth');

    const token = await client.getToken();
    await client.getToken();
    expect((await client.fetch(`${origin}/api/orders`)).status).toBe(200);
    expect(state.calls).toBe(1);
    await client.getToken({ forceRefresh: true });

    expect(state.calls).toBe(2);
    expect(boundTo.get(token.accessToken)).toBe(pki.client.thumbprint);
    expect(seen.map((s) => s.certificate)).toEqual(Array(3).fill(pki.client.thumbprint));
  });

  it('a new certificate: the next token request goes over a new connection presenting it, and a request in flight on the old one completes', async () => {
    const { state, provider } = switchable(pki.client);
    const client = newClient({ tokenEndpoint: `${origin}/token`, clientAuth: 'tls_client_auth', tls: provider });
    await client.getToken();
    holdSlow = deferred();
    const release = holdSlow;
    const slow = client.fetch(`${origin}/api/slow`);
    await waitUntil(() => seen.some((s) => s.path === '/api/slow'));

    state.current = pki.otherClient;
    const token = await client.getToken({ forceRefresh: true });
    release.resolve();

    expect((await within(slow)).status).toBe(200);
    expect(seen.find((s) => s.path === '/api/slow')?.certificate).toBe(pki.client.thumbprint);
    expect(tokenRequests().map((s) => s.certificate)).toEqual([pki.client.thumbprint, pki.otherClient.thumbprint]);
    // Connections presenting the old certificate, then one presenting the new one.
    expect(new Set(handshakes)).toEqual(new Set([pki.client.thumbprint, pki.otherClient.thumbprint]));
    expect(handshakes.indexOf(pki.otherClient.thumbprint)).toBe(handshakes.length - 1);
    expect(boundTo.get(token.accessToken)).toBe(pki.otherClient.thumbprint);
    expect((await client.fetch(`${origin}/api/orders`)).status).toBe(200);
    expect(seen.at(-1)).toEqual({ path: '/api/orders', certificate: pki.otherClient.thumbprint });
  });

  it('an unchanged certificate: tokens are shared through the store, and a client sharing it takes the token from it', async () => {
    const store = new (class extends MemoryTokenStore {
      reads = 0;
      override get(key: string) {
        this.reads++;
        return super.get(key);
      }
    })();
    const client = newClient({ tokenEndpoint: `${origin}/token`, tls: () => tlsOf(pki.client), store });
    const token = await client.getToken();
    const replica = newClient({ tokenEndpoint: `${origin}/token`, tls: () => tlsOf(pki.client), store });
    store.reads = 0;

    expect((await replica.getToken()).accessToken).toBe(token.accessToken);
    expect(tokenRequests()).toHaveLength(1);
    // One read: the replica keeps what it read (its certificate did not change meanwhile).
    expect(store.reads).toBe(1);
    expect(boundTo.get(token.accessToken)).toBe(pki.client.thumbprint);
  });

  it('a token bound to the old certificate is never handed out after the provider returned a new one, from memory or from a store', async () => {
    const { state, provider } = switchable(pki.client);
    const client = newClient({ tokenEndpoint: `${origin}/token`, tls: provider, store: new MemoryTokenStore() });
    const oldDefault = await client.getToken();
    await client.getToken({ scope: 'other' });

    state.current = pki.otherClient;
    // Another key's token request learns of the new certificate.
    await client.getToken({ scope: 'other', forceRefresh: true });
    const fresh = await client.getToken();

    expect(fresh.accessToken).not.toBe(oldDefault.accessToken);
    expect(boundTo.get(fresh.accessToken)).toBe(pki.otherClient.thumbprint);
    expect((await client.fetch(`${origin}/api/orders`)).status).toBe(200);
  });

  it('a token request during which the certificate changed is sent again with the new one', async () => {
    const { state, provider } = switchable(pki.client);
    const client = newClient({ tokenEndpoint: `${origin}/token`, tls: provider });
    holdToken = deferred();
    const release = holdToken;
    const first = client.getToken();
    await waitUntil(() => tokenRequests().length === 1);

    state.current = pki.otherClient;
    await client.getToken({ scope: 'other' });
    release.resolve();
    const token = await within(first);

    expect(boundTo.get(token.accessToken)).toBe(pki.otherClient.thumbprint);
    expect(tokenRequests().map((s) => s.certificate)).toEqual([pki.client.thumbprint, ...Array(2).fill(pki.otherClient.thumbprint)]);
    expect((await client.getToken()).accessToken).toBe(token.accessToken);
  });

  it('a token sent with a certificate that changed during its request is not stored under the previous certificate’s key', async () => {
    const { state, provider } = switchable(pki.client);
    const held = firstReadHeld(new MemoryTokenStore());
    const replica1 = newClient({ tokenEndpoint: `${origin}/token`, tls: provider, store: held.store });
    const replica2 = newClient({ tokenEndpoint: `${origin}/token`, tls: () => tlsOf(pki.client), store: held.store });
    const t1 = await getTokenAcrossChange(replica1, held, state);
    expect(boundTo.get(t1.accessToken)).toBe(pki.otherClient.thumbprint);
    const t2 = await replica2.getToken();
    expect(boundTo.get(t2.accessToken)).toBe(pki.client.thumbprint);
    expect((await replica2.fetch(`${origin}/api/orders`)).status).toBe(200);
  });

  it('a token read from the store while the certificate changed is not kept, even when its writer dated it later (clock skew)', async () => {
    const { state, provider } = switchable(pki.client);
    const old = await newClient({ tokenEndpoint: `${origin}/token`, tls: () => tlsOf(pki.client) }).getToken({ scope: 'old' });
    let reads = 0;
    const held = firstReadHeld({
      // The held read (the second to reach the store) finds a token written by a replica whose clock
      // runs 30 s ahead: "sent" after the change, by this process's clock.
      get: async () => {
        if (++reads !== 2) return undefined;
        const wall = Date.now();
        return { accessToken: old.accessToken, tokenType: 'Bearer', expiresAt: wall + 3_600_000, sentAt: wall + 30_000, extra: {} };
      },
      set: async () => {},
      delete: async () => {},
    });
    const client = newClient({ tokenEndpoint: `${origin}/token`, tls: provider, store: held.store });

    const token = await getTokenAcrossChange(client, held, state);
    expect(token.accessToken).not.toBe(old.accessToken);
    expect(boundTo.get(token.accessToken)).toBe(pki.otherClient.thumbprint);
  });

  it.each(['invalid_client', 'bare 401'] as const)(
    'a certificate refused by the token endpoint (%s) gets the provider asked again, and the request sent with its new certificate',
    async (refusal) => {
      registered = { certificate: pki.otherClient.thumbprint, refusal };
      const state = { current: pki.client };
      const provider = () => {
        // The new certificate is out once the old one was refused.
        if (tokenRequests().length > 0) state.current = pki.otherClient;
        return tlsOf(state.current);
      };
      const client = newClient({ tokenEndpoint: `${origin}/token`, tls: provider });

      const token = await client.getToken();

      expect(boundTo.get(token.accessToken)).toBe(pki.otherClient.thumbprint);
      // The request sent again with the new certificate is not sent a third time: its token is bound to it.
      expect(tokenRequests().map((s) => s.certificate)).toEqual([pki.client.thumbprint, pki.otherClient.thumbprint]);
    },
  );

  it('a TLS handshake refused with the old certificate gets the provider asked again: the retry presents the new one, and its token is kept', async () => {
    // The strict server refuses the self-signed certificate during the handshake; the provider has the
    // CA-issued one from its second call on.
    let calls = 0;
    const provider = () => tlsOf(++calls === 1 ? pki.selfSigned : pki.client);
    const client = newClient({ tokenEndpoint: `${strictOrigin}/token`, tls: provider, retry: { retries: 1, minDelay: 0 } });

    const token = await client.getToken();

    expect(boundTo.get(token.accessToken)).toBe(pki.client.thumbprint);
    expect(tokenRequests().map((s) => s.certificate)).toEqual([pki.client.thumbprint]);
    expect(calls).toBe(2);
    expect((await client.getToken()).accessToken).toBe(token.accessToken);
  });

  it('a provider that never settles: CONFIG naming it once `timeout` passed, and it is asked again on the next call', async () => {
    let calls = 0;
    const provider = () => {
      calls++;
      return new Promise<never>(() => {});
    };
    const client = newClient({ tokenEndpoint: `${origin}/token`, tls: provider, timeout: 20 });

    const error = await within(rejectionOf(client.getToken()));
    expect(error).toMatchObject({
      code: 'CONFIG',
      message: expect.stringContaining('the `tls` provider did not answer within the `timeout` option'),
    });
    await within(rejectionOf(client.getToken()));

    expect(calls).toBe(2);
    expect(seen).toEqual([]);
  });

  it('a request waiting for the provider (asked again after a failed request) ends when its signal aborts, not after `timeout`', async () => {
    let hung = false;
    let calls = 0;
    const provider = () => {
      calls++;
      return hung ? new Promise<never>(() => {}) : tlsOf(pki.client);
    };
    const client = newClient({ tokenEndpoint: `${origin}/token`, tls: provider, timeout: 600_000 });
    await client.getToken();
    const asked = calls;
    hung = true;
    await rejectionOf(client.fetch(`https://127.0.0.1:${await vacantPort()}/api/orders`));
    // The failure asked the provider, which does not answer; the next request waits for that answer.
    await waitUntil(() => calls > asked);

    const controller = new AbortController();
    const pending = rejectionOf(client.fetch(`${origin}/api/orders`, { signal: controller.signal }));
    await new Promise((resolve) => setTimeout(resolve, 20));
    controller.abort();

    expect(await within(pending)).toMatchObject({ name: 'AbortError' });
    expect(seen.filter((s) => s.path === '/api/orders')).toEqual([]);
    // It waited for the answer the failure asked for, without asking again.
    expect(calls).toBe(asked + 1);
  });

  it('a provider failing when asked after a failed request: the next request fails with CONFIG, and the one after asks again', async () => {
    let failing = false;
    let calls = 0;
    const provider = () => {
      calls++;
      if (failing) throw new Error('vault unreachable');
      return tlsOf(pki.client);
    };
    const client = newClient({ tokenEndpoint: `${origin}/token`, tls: provider });
    await client.getToken();
    failing = true;
    await rejectionOf(client.fetch(`https://127.0.0.1:${await vacantPort()}/api/orders`));
    await waitUntil(() => calls === 2);

    const error = await rejectionOf(client.fetch(`${origin}/api/orders`));
    expect(error).toMatchObject({ code: 'CONFIG', cause: { message: 'vault unreachable' } });
    expect(calls).toBe(3);
    failing = false;
    expect((await client.fetch(`${origin}/api/orders`)).status).toBe(200);
    expect(calls).toBe(4);
    // Answered: the requests after it do not ask.
    expect((await client.fetch(`${origin}/api/orders`)).status).toBe(200);
    expect(calls).toBe(4);
    expect(seen.filter((s) => s.path === '/api/orders')).toHaveLength(2);
  });

  it('with discovery, the token request goes to the mtls_endpoint_aliases endpoint', async () => {
    const client = newClient({ issuer: origin, tls: switchable(pki.client).provider });
    await client.getToken();
    expect(tokenRequests()).toEqual([{ path: '/token', certificate: pki.client.thumbprint }]);
  });

  it("close() destroys the old certificate's connections too, a request still in flight on them", async () => {
    const { state, provider } = switchable(pki.client);
    const client = newClient({ tokenEndpoint: `${origin}/token`, tls: provider });
    await client.getToken();
    holdSlow = deferred();
    const release = holdSlow;
    const slow = client.fetch(`${origin}/api/slow`).catch((error: unknown) => error);
    await waitUntil(() => seen.some((s) => s.path === '/api/slow'));
    state.current = pki.otherClient;
    await client.getToken({ forceRefresh: true });
    const open = () => new Promise<number>((resolve, reject) => server.getConnections((e, n) => (e ? reject(e) : resolve(n))));

    await client.close();

    await waitUntil(async () => expect(await open()).toBe(0), { timeout: 2_000, interval: 20 });
    expect(await within(slow)).toBeInstanceOf(Error);
    release.resolve();
  });

  it('tls as a function together with fetch is a TypeError naming fetch', () => {
    expect(
      typeErrorOf(() => newClient({ tokenEndpoint: `${origin}/token`, tls: () => tlsOf(pki.client), fetch: globalThis.fetch })).message,
    ).toMatch(/option `fetch` must be unset when `tls` is set/);
  });
});

describe('a tls provider that fails', () => {
  const keys = () => [pki.client.key, pki.otherClient.key, pki.selfSigned.key].map((k) => pemBody(k).slice(0, 40));

  it.each<[string, () => unknown, RegExp]>([
    ['throws', () => Promise.reject(new Error('vault is sealed')), /the `tls` provider failed/],
    ['returns null', () => null, /`tls` gave a value of type null, not TLS options/],
    ['returns the key PEM as a string', () => pki.client.key, /`tls` gave a value of type string, not TLS options/],
    ['returns no key', () => ({ cert: pki.client.cert }), /`tls` gave no usable `tls\.key`/],
    ['returns no certificate', () => ({ key: pki.client.key, ca: pki.ca.cert }), /`tls` gave no usable `tls\.cert`/],
    ['returns a key as the certificate', () => ({ cert: pki.client.key, key: pki.client.key }), /`tls\.cert` is not a PEM certificate/],
    [
      'returns the key of another certificate',
      () => ({ cert: pki.client.cert, key: pki.otherClient.key }),
      /`tls\.key` is not the private key of the `tls\.cert` certificate/,
    ],
  ])('%s: CONFIG, nothing of the answer in the error, and it is asked again on the next call', async (_name, bad, message) => {
    let answer = bad;
    let calls = 0;
    const client = newClient({
      tokenEndpoint: `${origin}/token`,
      tls: () => {
        calls++;
        return answer() as TlsOptions;
      },
    });

    const error = await rejectionOf(client.getToken());
    expect(error).toBeInstanceOf(TokenError);
    expect(error.code).toBe('CONFIG');
    expect(error.message).toMatch(message);
    const shown = `${error.message} ${inspect(error, { depth: 10, showHidden: true })} ${JSON.stringify(error)}`;
    for (const key of keys()) expect(shown).not.toContain(key);
    expect(seen).toEqual([]);

    answer = () => tlsOf(pki.client);
    await expect(client.getToken()).resolves.toMatchObject({ tokenType: 'Bearer' });
    expect(calls).toBe(2);
    expect(seen.map((s) => s.certificate)).toEqual([pki.client.thumbprint]);
  });
});

describe('tlsFromFiles', () => {
  /** Writes the PEM files of `certificate` the way a mounted secret changes: new files, renamed into place. */
  function write(base: string, certificate: TestCertificate) {
    for (const [name, content] of [
      ['tls.crt', certificate.cert],
      ['tls.key', certificate.key],
      ['ca.crt', pki.ca.cert],
    ] as const) {
      writeFileSync(join(base, `.${name}.tmp`), content);
      renameSync(join(base, `.${name}.tmp`), join(base, name));
    }
  }
  const filesIn = (base: string) => ({ cert: join(base, 'tls.crt'), key: join(base, 'tls.key'), ca: join(base, 'ca.crt') });

  it('reads the files again when they change: the next token request presents the new certificate', async () => {
    const base = mkdtempSync(join(dir, 'files-'));
    write(base, pki.client);
    const client = newClient({ tokenEndpoint: `${origin}/token`, tls: tlsFromFiles(filesIn(base)) });
    await client.getToken();

    write(base, pki.otherClient);
    const token = await client.getToken({ forceRefresh: true });

    expect(tokenRequests().map((s) => s.certificate)).toEqual([pki.client.thumbprint, pki.otherClient.thumbprint]);
    expect(boundTo.get(token.accessToken)).toBe(pki.otherClient.thumbprint);
  });

  it('returns the same object while the files are unchanged, and rejects while one is missing', async () => {
    const base = mkdtempSync(join(dir, 'files-'));
    const read = tlsFromFiles(filesIn(base));
    await expect(read()).rejects.toThrow(/ENOENT/);
    write(base, pki.client);
    const first = await read();
    expect(first).toEqual(tlsOf(pki.client));
    expect(await read()).toBe(first);
    write(base, pki.otherClient);
    expect(await read()).toEqual(tlsOf(pki.otherClient));
  });

  it('a missing file fails getToken with CONFIG, and the files are read again on the next call', async () => {
    const base = mkdtempSync(join(dir, 'files-'));
    const client = newClient({ tokenEndpoint: `${origin}/token`, tls: tlsFromFiles(filesIn(base)) });
    expect(await rejectionOf(client.getToken())).toMatchObject({
      code: 'CONFIG',
      message: expect.stringMatching(/the `tls` provider failed/),
    });
    write(base, pki.client);
    await expect(client.getToken()).resolves.toMatchObject({ tokenType: 'Bearer' });
  });

  it('paths are checked when it is called: a TypeError naming the missing one', () => {
    expect(typeErrorOf(() => tlsFromFiles({ cert: '/x.crt' } as never)).message).toMatch(/tlsFromFiles\(\{ key \}\) needs the path/);
    expect(typeErrorOf(() => tlsFromFiles({ cert: '', key: '/x.key' })).message).toMatch(/tlsFromFiles\(\{ cert \}\) needs the path/);
  });
});
