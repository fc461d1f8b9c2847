import { http, HttpResponse } from 'msw';
import { describe, expect, it, vi } from 'vitest';
import { ClientCredentialsClient } from '../../src/index.js';
import { TOKEN_URL, tokenEndpoint, useMswServer } from '../helpers/msw.js';
import { SECRET, rejectionOf, tokenJson, useClients } from '../helpers/core.js';

const server = useMswServer();
const makeClient = useClients();

/** Decodes `Authorization: Basic …` into its two raw (still form-encoded) halves. */
function basicParts(header: string | null): [string, string] {
  expect(header).toMatch(/^Basic [A-Za-z0-9+/]+=*$/);
  const decoded = Buffer.from(header!.slice('Basic '.length), 'base64').toString('latin1');
  const colon = decoded.indexOf(':');
  expect(colon).toBeGreaterThan(-1);
  return [decoded.slice(0, colon), decoded.slice(colon + 1)];
}

describe('token request shape', () => {
  it('POSTs a form with grant_type=client_credentials and asks for JSON', async () => {
    const { handler, seen } = tokenEndpoint();
    server.use(handler);
    const client = makeClient();
    await client.getToken();
    expect(seen).toHaveLength(1);
    const [req] = seen;
    expect(req!.method).toBe('POST');
    expect(req!.headers.get('content-type')).toBe('application/x-www-form-urlencoded');
    expect(req!.headers.get('accept')).toBe('application/json');
    expect(req!.form.get('grant_type')).toBe('client_credentials');
    expect(req!.form.getAll('grant_type')).toHaveLength(1);
  });

  it('sends no scope, audience or resource parameter when none is configured', async () => {
    const { handler, seen } = tokenEndpoint();
    server.use(handler);
    await makeClient().getToken();
    expect([...seen[0]!.form.keys()].sort()).toEqual(['grant_type']);
  });
});

describe('client_secret_basic', () => {
  it('is the default when a secret is given and puts id and secret only in the Authorization header', async () => {
    const { handler, seen } = tokenEndpoint();
    server.use(handler);
    await makeClient({ clientId: 'svc-a', clientSecret: SECRET }).getToken();
    const [id, secret] = basicParts(seen[0]!.headers.get('authorization'));
    expect(id).toBe('svc-a');
    expect(secret).toBe(SECRET);
    expect(seen[0]!.form.has('client_id')).toBe(false);
    expect(seen[0]!.form.has('client_secret')).toBe(false);
  });

  it('form-urlencodes id and secret before base64 (RFC 6749 §2.3.1): ":", "@", "+", "%", space, non-ASCII', async () => {
    const { handler, seen } = tokenEndpoint();
    server.use(handler);
    const clientId = 'svc:a@b+c%d e/é';
    const clientSecret = 'p:ss@w+rd%20 x/é🔑&=';
    await makeClient({ clientId, clientSecret }).getToken();
    const [id, secret] = basicParts(seen[0]!.headers.get('authorization'));
    // Exact application/x-www-form-urlencoded serialisation: space → "+", everything else reserved → %XX of UTF-8.
    expect(id).toBe('svc%3Aa%40b%2Bc%25d+e%2F%C3%A9');
    expect(secret).toBe('p%3Ass%40w%2Brd%2520+x%2F%C3%A9%F0%9F%94%91%26%3D');
    // Decoding the halves gives back the originals, and the only raw ":" is the separator.
    expect(decodeURIComponent(id.replace(/\+/g, ' '))).toBe(clientId);
    expect(decodeURIComponent(secret.replace(/\+/g, ' '))).toBe(clientSecret);
    const decoded = Buffer.from(seen[0]!.headers.get('authorization')!.slice(6), 'base64').toString('latin1');
    expect(decoded.split(':')).toHaveLength(2);
  });

  it('leaves unreserved characters as they are', async () => {
    const { handler, seen } = tokenEndpoint();
    server.use(handler);
    await makeClient({ clientId: 'Svc_1-a.b', clientSecret: 'AZaz09-._*' }).getToken();
    expect(basicParts(seen[0]!.headers.get('authorization'))).toEqual(['Svc_1-a.b', 'AZaz09-._*']);
  });
});

describe('client_secret_post', () => {
  it('sends client_id and client_secret in the body and no Authorization header', async () => {
    const { handler, seen } = tokenEndpoint();
    server.use(handler);
    const clientSecret = `${SECRET}:+% é`;
    await makeClient({ clientAuth: 'client_secret_post', clientId: 'svc a', clientSecret }).getToken();
    expect(seen[0]!.headers.has('authorization')).toBe(false);
    expect(seen[0]!.form.get('client_id')).toBe('svc a');
    expect(seen[0]!.form.get('client_secret')).toBe(clientSecret);
    expect(seen[0]!.form.get('grant_type')).toBe('client_credentials');
  });
});

describe('clientAuth none', () => {
  it('sends only client_id (the default without a secret)', async () => {
    const { handler, seen } = tokenEndpoint();
    server.use(handler);
    await makeClient({ clientSecret: undefined }).getToken();
    expect(seen[0]!.headers.has('authorization')).toBe(false);
    expect(seen[0]!.form.get('client_id')).toBe('svc-a');
    expect(seen[0]!.form.has('client_secret')).toBe(false);
  });

  it('sends only client_id when chosen explicitly even though a secret is configured', async () => {
    const { handler, seen } = tokenEndpoint();
    server.use(handler);
    await makeClient({ clientAuth: 'none', clientSecret: SECRET }).getToken();
    expect(seen[0]!.headers.has('authorization')).toBe(false);
    expect(seen[0]!.form.get('client_id')).toBe('svc-a');
    expect(seen[0]!.form.has('client_secret')).toBe(false);
    expect(JSON.stringify([...seen[0]!.form])).not.toContain(SECRET);
  });
});

describe('scope, audience, resource and extra parameters', () => {
  it('joins an array of scopes with single spaces, without duplicates', async () => {
    const { handler, seen } = tokenEndpoint();
    server.use(handler);
    await makeClient({ scope: ['orders:read', 'orders:write', 'orders:read'] }).getToken();
    expect(seen[0]!.form.get('scope')).toBe('orders:read orders:write');
  });

  it('normalises a space-separated scope string: single spaces, no empty items, no duplicates', async () => {
    const { handler, seen } = tokenEndpoint();
    server.use(handler);
    await makeClient({ scope: ' a  b a   c ' }).getToken();
    expect(seen[0]!.form.get('scope')).toBe('a b c');
  });

  it('sends audience, every resource (repeated) and extraParams', async () => {
    const { handler, seen } = tokenEndpoint();
    server.use(handler);
    await makeClient({
      audience: 'https://api.example.com',
      resource: ['https://r1.example.com', 'https://r2.example.com'],
      extraParams: { tenant: 't-42', 'x-trace': 'a b&c' },
    }).getToken();
    const form = seen[0]!.form;
    expect(form.get('audience')).toBe('https://api.example.com');
    expect(form.getAll('resource')).toEqual(['https://r1.example.com', 'https://r2.example.com']);
    expect(form.get('tenant')).toBe('t-42');
    expect(form.get('x-trace')).toBe('a b&c');
    expect(form.get('grant_type')).toBe('client_credentials');
  });

  it('sends a single resource given as a string', async () => {
    const { handler, seen } = tokenEndpoint();
    server.use(handler);
    await makeClient({ resource: 'https://r1.example.com' }).getToken();
    expect(seen[0]!.form.getAll('resource')).toEqual(['https://r1.example.com']);
  });

  it.each(['grant_type', 'scope', 'audience', 'resource', 'client_id', 'client_secret'])(
    'refuses extraParams.%s at construction with a TypeError naming it',
    (name) => {
      expect(() => new ClientCredentialsClient({ tokenEndpoint: TOKEN_URL, clientId: 'svc-a', extraParams: { [name]: 'x' } })).toThrow(
        new RegExp(`extraParams\\.${name}`),
      );
      expect(() => new ClientCredentialsClient({ tokenEndpoint: TOKEN_URL, clientId: 'svc-a', extraParams: { [name]: 'x' } })).toThrow(
        TypeError,
      );
    },
  );

  it('refuses a non-string extraParams value with a TypeError naming it', () => {
    expect(
      () =>
        new ClientCredentialsClient({
          tokenEndpoint: TOKEN_URL,
          clientId: 'svc-a',
          extraParams: { tenant: 42 as unknown as string },
        }),
    ).toThrow(/extraParams\.tenant/);
  });
});

describe('transport', () => {
  it('does not follow a redirect from the token endpoint: it rejects and never calls the target', async () => {
    let targetHits = 0;
    server.use(
      http.post(TOKEN_URL, () => new HttpResponse(null, { status: 302, headers: { location: 'https://evil.example.com/steal' } })),
      http.all('https://evil.example.com/steal', () => {
        targetHits++;
        return tokenJson('from-redirect-target');
      }),
    );
    // The mock server does follow redirects for a plain fetch, so the assertion below can fail.
    expect((await fetch(TOKEN_URL, { method: 'POST' })).status).toBe(200);
    expect(targetHits).toBe(1);

    const error = await rejectionOf(makeClient().getToken());
    expect(error.code).toBe('INVALID_RESPONSE');
    expect(error.status).toBe(302);
    expect(targetHits).toBe(1);
  });

  it('asks fetch for redirect: manual and cache: no-store, with a timeout signal', async () => {
    const fetch = vi.fn<typeof globalThis.fetch>(async () => Response.json({ access_token: 't', expires_in: 60 }));
    await makeClient({ fetch }).getToken();
    expect(fetch).toHaveBeenCalledTimes(1);
    const [url, init] = fetch.mock.calls[0]!;
    expect(String(url)).toBe(TOKEN_URL);
    expect(init?.method).toBe('POST');
    expect(init?.redirect).toBe('manual');
    expect((init as (RequestInit & { cache?: string }) | undefined)?.cache).toBe('no-store');
    expect(init?.signal).toBeInstanceOf(AbortSignal);
    const form = new URLSearchParams(String(init?.body));
    expect(form.get('grant_type')).toBe('client_credentials');
  });

  it('uses the fetch option instead of the global fetch', async () => {
    const { handler, seen } = tokenEndpoint();
    server.use(handler);
    const fetch = vi.fn<typeof globalThis.fetch>(async () => Response.json({ access_token: 'from-option', expires_in: 60 }));
    expect((await makeClient({ fetch }).getToken()).accessToken).toBe('from-option');
    expect(fetch).toHaveBeenCalledTimes(1);
    expect(seen).toHaveLength(0);
  });

  it('looks globalThis.fetch up at call time when no fetch option is given', async () => {
    const { handler, seen } = tokenEndpoint();
    server.use(handler);
    const client = makeClient();
    const stub = vi.fn<typeof globalThis.fetch>(async () => Response.json({ access_token: 'from-stub', expires_in: 60 }));
    vi.stubGlobal('fetch', stub);
    expect((await client.getToken()).accessToken).toBe('from-stub');
    expect(stub).toHaveBeenCalledTimes(1);
    expect(seen).toHaveLength(0);
  });
});
