/**
 * Mutual TLS (RFC 8705) in the client, against a real https server on 127.0.0.1 that asks for a client
 * certificate (msw cannot see undici's own connections). Certificates are made at test time.
 */
import { createPrivateKey } from 'node:crypto';
import { once } from 'node:events';
import { createServer, type Server } from 'node:https';
import type { AddressInfo } from 'node:net';
import type { TLSSocket } from 'node:tls';
import { inspect } from 'node:util';
import { http, HttpResponse } from 'msw';
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import { type ClientCredentialsClient, type ClientCredentialsOptions, MemoryTokenStore, TokenError } from '../../src/index.js';
import { createPki, pemBody, type TestCertificate, type TestPki, x5tS256 } from '../helpers/certs.js';
import { leakyToken, SECRET, typeErrorOf, useClients } from '../helpers/core.js';
import { ISSUER, TOKEN_URL, tokenEndpoint, useMswServer } from '../helpers/msw.js';
import { waitUntil } from '../helpers/time.js';

const msw = useMswServer();

/** One request the https server saw. */
interface Seen {
  readonly method: string;
  readonly path: string;
  readonly form: URLSearchParams;
  readonly body: string;
  readonly authorization: string | undefined;
  /** `x5t#S256` of the client certificate on the connection, if any. */
  readonly certificate: string | undefined;
}

let pki: TestPki;
let server: Server;
let origin: string;
const seen: Seen[] = [];
let issued = 0;

/**
 * The https server: an authorization server (metadata with `mtls_endpoint_aliases`, plain and mutual-TLS
 * token and revocation endpoints, all answering alike) and a resource at /api/*.
 */
beforeAll(async () => {
  pki = await createPki();
  server = createServer({ cert: pki.server.cert, key: pki.server.key, requestCert: true, rejectUnauthorized: false }, (req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => {
      const raw = (req.socket as TLSSocket).getPeerCertificate().raw;
      const path = req.url ?? '/';
      seen.push({
        method: req.method ?? '',
        path,
        form: new URLSearchParams(Buffer.concat(chunks).toString()),
        body: Buffer.concat(chunks).toString(),
        authorization: req.headers.authorization,
        certificate: raw === undefined ? undefined : x5tS256(raw),
      });
      const json = (status: number, body: unknown) => {
        res.writeHead(status, { 'content-type': 'application/json' });
        res.end(JSON.stringify(body));
      };
      if (path === '/.well-known/oauth-authorization-server') {
        return json(200, {
          issuer: origin,
          token_endpoint: `${origin}/token`,
          revocation_endpoint: `${origin}/revoke`,
          mtls_endpoint_aliases: { token_endpoint: `${origin}/mtls/token`, revocation_endpoint: `${origin}/mtls/revoke` },
        });
      }
      if (path.endsWith('/token')) return json(200, { access_token: leakyToken(++issued), token_type: 'Bearer', expires_in: 3600 });
      if (path.endsWith('/revoke')) return json(200, {});
      if (path.startsWith('/api/')) return json(200, { ok: true });
      json(404, { error: 'not_found' });
    });
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  origin = `https://127.0.0.1:${(server.address() as AddressInfo).port}`;
});
afterAll(async () => {
  server.closeAllConnections();
  await new Promise((resolve) => server.close(resolve));
});

const newClient = useClients({ clientId: 'svc-m', retry: false });
afterEach(() => {
  seen.length = 0;
});

const tlsOf = (certificate: TestCertificate) => ({ cert: certificate.cert, key: certificate.key, ca: pki.ca.cert });

/** The TypeError a constructor throws. */
function constructionError(options: Partial<ClientCredentialsOptions>): TypeError {
  return typeErrorOf(() => newClient(options));
}

describe('tls options', () => {
  it('tls together with fetch is a TypeError naming fetch', () => {
    expect(constructionError({ tokenEndpoint: TOKEN_URL, tls: tlsOf(pki.client), fetch: globalThis.fetch }).message).toMatch(
      /option `fetch` must be unset when `tls` is set/,
    );
  });

  it.each<[string, () => unknown, RegExp]>([
    ['a certificate that is not PEM', () => ({ cert: 'not a certificate', key: pki.client.key }), /`tls\.cert` is not a PEM certificate/],
    ['a private key as certificate', () => ({ cert: pki.client.key, key: pki.client.key }), /`tls\.cert` is not a PEM certificate/],
    ['no certificate', () => ({ key: pki.client.key }), /`tls\.cert` must be a PEM certificate/],
    ['no key', () => ({ cert: pki.client.cert }), /`tls\.key` must be a PEM private key/],
    ['a key that is not PEM', () => ({ cert: pki.client.cert, key: 'garbage' }), /`tls\.key` is not a PEM private key/],
    [
      'the key of another certificate',
      () => ({ cert: pki.client.cert, key: pki.otherClient.key }),
      /`tls\.key` is not the private key of the `tls\.cert` certificate/,
    ],
    ['null', () => null, /`tls\.cert` must be a PEM certificate/],
  ])('%s is a TypeError naming the option, without key material', (_name, tls, message) => {
    const error = constructionError({ tokenEndpoint: TOKEN_URL, tls: tls() as never });
    expect(error.message).toMatch(message);
    for (const pem of [pki.client.key, pki.otherClient.key])
      expect(`${error.message} ${inspect(error)}`).not.toContain(pemBody(pem).slice(0, 40));
  });

  it('an encrypted key works with tls.passphrase, and a wrong passphrase is a TypeError', async () => {
    const encrypted = createPrivateKey(pki.client.key).export({
      type: 'pkcs8',
      format: 'pem',
      cipher: 'aes-256-cbc',
      passphrase: 'open sesame',
    }) as string;
    const wrong = constructionError({
      tokenEndpoint: `${origin}/token`,
      tls: { ...tlsOf(pki.client), key: encrypted, passphrase: 'wrong' },
    });
    expect(wrong.message).toMatch(/`tls\.key` is not a PEM private key \(or `tls\.passphrase` does not decrypt it\)/);
    expect(wrong.message).not.toContain('wrong');

    const client = newClient({
      tokenEndpoint: `${origin}/token`,
      tls: { ...tlsOf(pki.client), key: encrypted, passphrase: 'open sesame' },
    });
    await client.getToken();
    expect(seen.map((s) => s.certificate)).toEqual([pki.client.thumbprint]);
  });

  it('with tls and no secret the method is tls_client_auth: only client_id goes in the form, no Authorization', async () => {
    const client = newClient({ tokenEndpoint: `${origin}/token`, tls: tlsOf(pki.client) });
    expect(client.toJSON().clientAuth).toBe('tls_client_auth');
    await client.getToken();
    expect([...seen[0]!.form.keys()].sort()).toEqual(['client_id', 'grant_type']);
    expect(seen[0]!.authorization).toBeUndefined();
  });

  it('self_signed_tls_client_auth presents the self-signed certificate and sends only client_id too', async () => {
    const client = newClient({ tokenEndpoint: `${origin}/token`, clientAuth: 'self_signed_tls_client_auth', tls: tlsOf(pki.selfSigned) });
    await client.getToken();
    expect(seen[0]!.certificate).toBe(pki.selfSigned.thumbprint);
    expect(seen[0]!.form.get('client_id')).toBe('svc-m');
    expect(seen[0]!.form.has('client_secret')).toBe(false);
  });

  it('tls_client_auth without tls is a TypeError naming tls', () => {
    expect(constructionError({ tokenEndpoint: TOKEN_URL, clientAuth: 'tls_client_auth' }).message).toMatch(
      /`tls` must be set for clientAuth tls_client_auth/,
    );
    expect(constructionError({ tokenEndpoint: TOKEN_URL, clientAuth: 'self_signed_tls_client_auth' }).message).toMatch(/`tls` must be set/);
  });
});

describe('mutual TLS endpoints', () => {
  it('with tls, discovery uses mtls_endpoint_aliases for token and revocation; the certificate is on every connection', async () => {
    const client = newClient({ issuer: origin, tls: tlsOf(pki.client) });

    const token = await client.getToken();
    await client.revoke();

    expect(token.accessToken).toMatch(/^AT-must-never-leak-/);
    expect(seen.map((s) => [s.method, s.path])).toEqual([
      ['GET', '/.well-known/oauth-authorization-server'],
      ['POST', '/mtls/token'],
      ['POST', '/mtls/revoke'],
    ]);
    expect(seen.map((s) => s.certificate)).toEqual(Array(3).fill(pki.client.thumbprint));
    expect(seen[2]!.form.get('token')).toBe(token.accessToken);
  });

  it('configured endpoints win over the aliases', async () => {
    const client = newClient({
      issuer: origin,
      tokenEndpoint: `${origin}/token`,
      revocationEndpoint: `${origin}/revoke`,
      tls: tlsOf(pki.client),
    });
    await client.getToken();
    await client.revoke();
    expect(seen.map((s) => s.path)).toEqual(['/token', '/revoke']);
  });

  it('without tls the plain endpoints are used even when the metadata has aliases', async () => {
    msw.use(
      http.get(`${ISSUER}/.well-known/oauth-authorization-server`, () =>
        HttpResponse.json({
          issuer: ISSUER,
          token_endpoint: TOKEN_URL,
          revocation_endpoint: `${ISSUER}/oauth2/revoke`,
          mtls_endpoint_aliases: { token_endpoint: `${ISSUER}/mtls/token`, revocation_endpoint: `${ISSUER}/mtls/revoke` },
        }),
      ),
    );
    const tokens = tokenEndpoint();
    const revocations: string[] = [];
    msw.use(
      tokens.handler,
      http.post(`${ISSUER}/oauth2/revoke`, ({ request }) => {
        revocations.push(request.url);
        return new HttpResponse(null, { status: 200 });
      }),
    );
    const client = newClient({ issuer: ISSUER, clientSecret: SECRET });

    await client.getToken();
    await client.revoke();

    expect(tokens.seen).toHaveLength(1);
    expect(revocations).toEqual([`${ISSUER}/oauth2/revoke`]);
  });

  it('client.fetch presents the certificate to resource servers, with the token (Request objects too)', async () => {
    const client = newClient({ tokenEndpoint: `${origin}/token`, tls: tlsOf(pki.client) });

    const response = await client.fetch(`${origin}/api/orders`);
    const fromRequest = await client.fetch(
      new Request(`${origin}/api/invoices`, { method: 'POST', body: 'x=1', headers: { 'x-trace': 't-1' } }),
    );

    expect([response.status, fromRequest.status]).toEqual([200, 200]);
    expect(seen.filter((s) => s.path.startsWith('/api/')).map((s) => [s.method, s.path, s.body, s.authorization, s.certificate])).toEqual([
      ['GET', '/api/orders', '', `Bearer ${leakyToken(issued)}`, pki.client.thumbprint],
      ['POST', '/api/invoices', 'x=1', `Bearer ${leakyToken(issued)}`, pki.client.thumbprint],
    ]);
  });

  it('tokens are cached per certificate: clients with different certificates sharing a store get separate tokens', async () => {
    const store = new MemoryTokenStore();
    const options = { tokenEndpoint: `${origin}/token`, store };
    const a = await newClient({ ...options, tls: tlsOf(pki.client) }).getToken();
    const b = await newClient({ ...options, tls: tlsOf(pki.selfSigned) }).getToken();
    const a2 = await newClient({ ...options, tls: tlsOf(pki.client) }).getToken();

    expect(a.accessToken).not.toBe(b.accessToken);
    expect(a2.accessToken).toBe(a.accessToken);
    expect(seen.map((s) => s.certificate)).toEqual([pki.client.thumbprint, pki.selfSigned.thumbprint]);
  });

  it('a server certificate from an unknown CA fails with a NETWORK TokenError that shows no key', async () => {
    const client = newClient({ tokenEndpoint: `${origin}/token`, tls: { cert: pki.client.cert, key: pki.client.key } });
    const error = await client.getToken().catch((e: unknown) => e);
    expect(error).toBeInstanceOf(TokenError);
    expect((error as TokenError).code).toBe('NETWORK');
    expect(seen).toHaveLength(0);
    expect(`${String(error)} ${inspect(error, { depth: 10 })}`).not.toContain(pemBody(pki.client.key).slice(0, 40));
  });

  it('close() closes the connections the certificate opened', async () => {
    const client = newClient({ tokenEndpoint: `${origin}/token`, tls: tlsOf(pki.client) });
    await client.getToken();
    const open = () =>
      new Promise<number>((resolve, reject) => server.getConnections((error, count) => (error ? reject(error) : resolve(count))));
    expect(await open()).toBeGreaterThan(0);

    await client.close();

    await waitUntil(async () => expect(await open()).toBe(0), { timeout: 1_000, interval: 20 });
  });

  it('inspect and JSON of a client with tls show neither the key nor the certificate', () => {
    const client = newClient({ tokenEndpoint: `${origin}/token`, tls: tlsOf(pki.client) });
    const text = `${inspect(client, { depth: 20, showHidden: true })} ${JSON.stringify(client)}`;
    expect(text).not.toContain(pemBody(pki.client.key).slice(0, 40));
    expect(text).not.toContain(pemBody(pki.client.cert).slice(0, 40));
  });
});

describe('without undici installed', () => {
  it('mutual TLS fails with a CONFIG TokenError naming the package to install', async () => {
    vi.resetModules();
    vi.doMock('undici', () => {
      throw new Error("Cannot find package 'undici'");
    });
    try {
      const { ClientCredentialsClient: Fresh } = (await import('../../src/index.js')) as {
        ClientCredentialsClient: typeof ClientCredentialsClient;
      };
      const client = new Fresh({ tokenEndpoint: `${origin}/token`, clientId: 'svc-m', tls: tlsOf(pki.client), retry: false });
      const error = await client.getToken().catch((e: unknown) => e);
      await client.close();
      expect(error).toMatchObject({ name: 'TokenError', code: 'CONFIG' });
      expect((error as Error).message).toMatch(/npm install undici/);
      expect(seen).toHaveLength(0);
    } finally {
      vi.doUnmock('undici');
      vi.resetModules();
    }
  });
});
