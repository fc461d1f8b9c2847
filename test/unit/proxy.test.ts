/**
 * Proxies (`proxy: url` and `proxy: 'env'`) and private CAs (`tls: { ca }`), against a real forward
 * proxy (the `proxy` package, as undici's own tests use) and real https / http servers on 127.0.0.1.
 * The proxy records every CONNECT tunnel it opens; the https server records the client certificate of
 * each connection. Certificates are made at test time.
 */
import { once } from 'node:events';
import { createServer as createHttpServer, type Server as HttpServer } from 'node:http';
import { createServer, type Server } from 'node:https';
import type { AddressInfo } from 'node:net';
import type { TLSSocket } from 'node:tls';
import { inspect } from 'node:util';
import { createProxy, type ProxyServer } from 'proxy';
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import type { ClientCredentialsOptions } from '../../src/index.js';
import { createPki, type TestPki, x5tS256 } from '../helpers/certs.js';
import { leakyToken, rejectionOf, SECRET, typeErrorOf, useClients } from '../helpers/core.js';

/** One request a server saw. */
interface Seen {
  readonly path: string;
  readonly authorization: string | undefined;
  readonly dpop: string | undefined;
  /** `x5t#S256` of the client certificate on the connection, if any. */
  readonly certificate: string | undefined;
}

let pki: TestPki;
let https: Server;
let origin: string;
let plain: HttpServer;
let plainOrigin: string;
let proxy: ProxyServer;
let proxyUrl: string;
const seen: Seen[] = [];
/** `host:port` of every CONNECT the proxy received. */
const tunnels: string[] = [];
let issued = 0;

function handler(req: import('node:http').IncomingMessage, res: import('node:http').ServerResponse) {
  req.resume();
  req.on('end', () => {
    const socket = req.socket as Partial<TLSSocket>;
    const raw = socket.getPeerCertificate?.().raw;
    seen.push({
      path: req.url ?? '/',
      authorization: req.headers.authorization,
      dpop: req.headers.dpop as string | undefined,
      certificate: raw && x5tS256(raw),
    });
    res.writeHead(200, { 'content-type': 'application/json' });
    if (req.url === '/token')
      return res.end(
        JSON.stringify({ access_token: leakyToken(++issued), token_type: req.headers.dpop ? 'DPoP' : 'Bearer', expires_in: 3600 }),
      );
    res.end(JSON.stringify({ ok: true }));
  });
}

async function listen<T extends HttpServer | Server>(server: T): Promise<number> {
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  return (server.address() as AddressInfo).port;
}

beforeAll(async () => {
  pki = await createPki();
  https = createServer({ cert: pki.server.cert, key: pki.server.key, requestCert: true, rejectUnauthorized: false }, handler);
  origin = `https://127.0.0.1:${await listen(https)}`;
  plain = createHttpServer(handler);
  plainOrigin = `http://127.0.0.1:${await listen(plain)}`;
  proxy = createProxy(createHttpServer());
  proxy.on('connect', (req: import('node:http').IncomingMessage) => tunnels.push(req.url ?? ''));
  proxyUrl = `http://127.0.0.1:${await listen(proxy)}`;
});
afterAll(async () => {
  for (const server of [https, plain, proxy]) {
    server.closeAllConnections();
    await new Promise((resolve) => server.close(resolve));
  }
});

const newClient = useClients({ clientId: 'svc-p', clientSecret: SECRET, retry: false });
afterEach(() => {
  seen.length = 0;
  tunnels.length = 0;
  issued = 0;
  delete (proxy as { authenticate?: unknown }).authenticate;
  vi.unstubAllEnvs();
});

const hostOf = (url: string) => new URL(url).host;
const privateCa = () => ({ ca: pki.ca.cert });

/** Clears every proxy variable, then sets the given ones (undefined: unset). */
function proxyEnv(vars: Record<string, string | undefined>) {
  for (const name of ['HTTPS_PROXY', 'https_proxy', 'HTTP_PROXY', 'http_proxy', 'NO_PROXY', 'no_proxy']) vi.stubEnv(name, vars[name]);
}

function constructionError(options: Partial<ClientCredentialsOptions>): TypeError {
  return typeErrorOf(() => newClient(options));
}

describe('private CA', () => {
  it('tls: { ca } alone trusts the private CA of the authorization server, presenting no certificate', async () => {
    const client = newClient({ tokenEndpoint: `${origin}/token`, tls: privateCa() });
    expect(client.toJSON().clientAuth).toBe('client_secret_basic');
    await expect(client.getToken()).resolves.toMatchObject({ tokenType: 'Bearer' });
    expect(seen).toEqual([
      expect.objectContaining({ path: '/token', certificate: undefined, authorization: expect.stringMatching(/^Basic /) }),
    ]);
  });

  it('without the private CA the server certificate is refused', async () => {
    const client = newClient({ tokenEndpoint: `${origin}/token` });
    expect((await rejectionOf(client.getToken())).code).toBe('NETWORK');
    expect(seen).toEqual([]);
  });

  it.each([
    ['tls: {}', { tls: {} }, /`tls\.cert` must be a PEM certificate/],
    ['a ca that is not PEM', { tls: { ca: 5 as never } }, /`tls\.ca` must be a PEM certificate or a list of them/],
    ['an empty list of CAs', { tls: { ca: [] } }, /`tls\.ca` must be a PEM certificate or a list of them/],
    ['a key without its certificate', { tls: { key: 'k', ca: 'c' } }, /`tls\.cert` must be a PEM certificate/],
    [
      'tls_client_auth with a ca only',
      { clientAuth: 'tls_client_auth', clientSecret: undefined, tls: { ca: 'c' } },
      /`tls\.cert` must be set for clientAuth tls_client_auth/,
    ],
  ] as const)('%s is a TypeError naming the option', (_name, options, message) => {
    expect(constructionError({ tokenEndpoint: `${origin}/token`, ...(options as Partial<ClientCredentialsOptions>) }).message).toMatch(
      message,
    );
  });
});

describe('proxy: url', () => {
  it('a token request to an https endpoint goes through one CONNECT tunnel to the endpoint', async () => {
    const client = newClient({ tokenEndpoint: `${origin}/token`, tls: privateCa(), proxy: proxyUrl });
    await client.getToken();
    expect(tunnels).toEqual([hostOf(origin)]);
    expect(seen.map((s) => s.path)).toEqual(['/token']);
  });

  it('a URL object works too, and an http loopback endpoint is reached through the proxy as well', async () => {
    const client = newClient({ tokenEndpoint: `${plainOrigin}/token`, proxy: new URL(proxyUrl) });
    await client.getToken();
    expect(tunnels).toEqual([hostOf(plainOrigin)]);
  });

  it('mutual TLS through the proxy: the certificate reaches the server inside the tunnel', async () => {
    const client = newClient({
      tokenEndpoint: `${origin}/token`,
      clientSecret: undefined,
      tls: { cert: pki.client.cert, key: pki.client.key, ca: pki.ca.cert },
      proxy: proxyUrl,
    });
    expect(client.toJSON().clientAuth).toBe('tls_client_auth');
    await client.getToken();
    expect(tunnels).toEqual([hostOf(origin)]);
    expect(seen).toEqual([expect.objectContaining({ path: '/token', certificate: pki.client.thumbprint })]);
  });

  it('a rotating certificate (tls as a function) through the proxy: a new tunnel presents the new certificate', async () => {
    let current = pki.client;
    const client = newClient({
      tokenEndpoint: `${origin}/token`,
      clientSecret: undefined,
      tls: () => ({ cert: current.cert, key: current.key, ca: pki.ca.cert }),
      proxy: proxyUrl,
    });
    await client.getToken();
    current = pki.otherClient;
    await client.getToken({ forceRefresh: true });
    expect(tunnels).toEqual([hostOf(origin), hostOf(origin)]);
    expect(seen.map((s) => s.certificate)).toEqual([pki.client.thumbprint, pki.otherClient.thumbprint]);
  });

  it('client.fetch and createFetch go through the proxy too, with the token', async () => {
    const client = newClient({ tokenEndpoint: `${origin}/token`, tls: privateCa(), proxy: proxyUrl });
    expect((await client.fetch(`${plainOrigin}/api/a`)).status).toBe(200);
    expect((await client.createFetch({ scope: 'b' })(`${plainOrigin}/api/b`)).status).toBe(200);
    expect(new Set(tunnels)).toEqual(new Set([hostOf(origin), hostOf(plainOrigin)]));
    expect(seen.filter((s) => s.path.startsWith('/api/')).map((s) => s.authorization)).toEqual([
      `Bearer ${leakyToken(1)}`,
      `Bearer ${leakyToken(2)}`,
    ]);
  });

  it('DPoP works through the proxy: the proof goes with the token request', async () => {
    const client = newClient({ tokenEndpoint: `${origin}/token`, tls: privateCa(), proxy: proxyUrl, dpop: true });
    await expect(client.getToken()).resolves.toMatchObject({ tokenType: 'DPoP' });
    expect(tunnels).toEqual([hostOf(origin)]);
    expect(seen[0]?.dpop).toMatch(/^ey/);
  });

  it('credentials in the proxy URL are sent to the proxy and never shown by the client', async () => {
    proxy.authenticate = (req) => req.headers['proxy-authorization'] === `Basic ${Buffer.from(`u:${SECRET}`).toString('base64')}`;
    const authenticated = newClient({
      tokenEndpoint: `${origin}/token`,
      tls: privateCa(),
      proxy: proxyUrl.replace('//', `//u:${SECRET}@`),
    });
    await authenticated.getToken();
    expect(tunnels).toEqual([hostOf(origin)]);
    expect(inspect(authenticated, { depth: 10 }) + JSON.stringify(authenticated)).not.toContain(SECRET);
    const refused = newClient({
      tokenEndpoint: `${origin}/token`,
      tls: privateCa(),
      proxy: proxyUrl.replace('//', `//u:${SECRET}-wrong@`),
    });
    const error = await rejectionOf(refused.getToken());
    expect(error.code).toBe('NETWORK');
    expect(`${error.message} ${inspect(error, { depth: 10 })}`).not.toContain(SECRET);
  });

  it.each([
    ['not a URL', 'proxy.internal:3128', /option `proxy` must be 'env' or the http\(s\) URL of a proxy/],
    ['another protocol', 'socks5://127.0.0.1:1080', /option `proxy` must be 'env' or the http\(s\) URL of a proxy/],
    ['a number', 3128, /option `proxy` must be/],
  ])('%s is a TypeError naming proxy', (_name, value, message) => {
    expect(constructionError({ tokenEndpoint: `${origin}/token`, proxy: value as never }).message).toMatch(message);
  });

  it('proxy together with fetch is a TypeError naming fetch', () => {
    expect(constructionError({ tokenEndpoint: `${origin}/token`, proxy: proxyUrl, fetch: globalThis.fetch }).message).toMatch(
      /option `fetch` must be unset when `proxy` is set/,
    );
  });
});

describe("proxy: 'env'", () => {
  it('HTTPS_PROXY carries https requests through the proxy', async () => {
    proxyEnv({ HTTPS_PROXY: proxyUrl });
    const client = newClient({ tokenEndpoint: `${origin}/token`, tls: privateCa(), proxy: 'env' });
    await client.getToken();
    expect(tunnels).toEqual([hostOf(origin)]);
  });

  it('the lower-case https_proxy works too, and HTTP_PROXY is used for http endpoints', async () => {
    proxyEnv({ https_proxy: proxyUrl, HTTP_PROXY: proxyUrl });
    const client = newClient({ tokenEndpoint: `${origin}/token`, tls: privateCa(), proxy: 'env' });
    await client.getToken();
    await client.fetch(`${plainOrigin}/api/x`);
    expect(tunnels).toEqual([hostOf(origin), hostOf(plainOrigin)]);
  });

  it('a host in NO_PROXY is reached directly (still trusting the private CA)', async () => {
    proxyEnv({ HTTPS_PROXY: proxyUrl, NO_PROXY: `example.com,${hostOf(origin)}` });
    const client = newClient({ tokenEndpoint: `${origin}/token`, tls: privateCa(), proxy: 'env' });
    await client.getToken();
    expect(tunnels).toEqual([]);
    expect(seen.map((s) => s.path)).toEqual(['/token']);
  });

  it('without a proxy variable requests go directly', async () => {
    proxyEnv({});
    const client = newClient({ tokenEndpoint: `${plainOrigin}/token`, proxy: 'env' });
    await client.getToken();
    expect(tunnels).toEqual([]);
    expect(seen.map((s) => s.path)).toEqual(['/token']);
  });
});
