import { http, HttpResponse } from 'msw';
import { describe, expect, it } from 'vitest';
import { TokenError } from '../../src/index.js';
import { ISSUER, TOKEN_URL, tokenEndpoint, useMswServer } from '../helpers/msw.js';
import { deferred, rejectionOf, stateOf, useClients } from '../helpers/core.js';

const server = useMswServer();
const makeClient = useClients();

const TENANT = `${ISSUER}/tenant1`;
const TENANT_TOKEN_URL = `${ISSUER}/tenant1/oauth2/token`;

/** A GET handler for a metadata location that records its requests and answers `reply(n)`. */
function metadataAt(url: string, reply: (n: number) => Response | Promise<Response>) {
  const seen: Request[] = [];
  const handler = http.get(url, ({ request }) => {
    seen.push(request);
    return reply(seen.length);
  });
  return { handler, seen };
}

const metadata = (issuer: string, tokenEndpointUrl: string, more: Record<string, unknown> = {}) =>
  HttpResponse.json({ issuer, token_endpoint: tokenEndpointUrl, ...more });

describe('discovery', () => {
  it('reads RFC 8414 metadata at the root well-known location and uses its token_endpoint', async () => {
    const meta = metadataAt(`${ISSUER}/.well-known/oauth-authorization-server`, () => metadata(ISSUER, TOKEN_URL));
    const token = tokenEndpoint();
    server.use(meta.handler, token.handler);
    const client = makeClient({ tokenEndpoint: undefined, issuer: ISSUER });
    expect((await client.getToken()).accessToken).toBe('tok-1');
    expect(meta.seen).toHaveLength(1);
    expect(meta.seen[0]!.headers.get('accept')).toBe('application/json');
    expect(token.seen).toHaveLength(1);
  });

  it('inserts the well-known segment before the issuer path (RFC 8414 §3.1)', async () => {
    const meta = metadataAt(`${ISSUER}/.well-known/oauth-authorization-server/tenant1`, () => metadata(TENANT, TENANT_TOKEN_URL));
    const token = tokenEndpoint(undefined, TENANT_TOKEN_URL);
    server.use(meta.handler, token.handler);
    const client = makeClient({ tokenEndpoint: undefined, issuer: TENANT });
    expect((await client.getToken()).accessToken).toBe('tok-1');
    expect(meta.seen).toHaveLength(1);
    expect(token.seen).toHaveLength(1);
  });

  it('falls back to OpenID Connect discovery, path-inserted then appended to the issuer, when RFC 8414 metadata is 404', async () => {
    const rfc8414 = metadataAt(`${ISSUER}/.well-known/oauth-authorization-server/tenant1`, () => new HttpResponse('no', { status: 404 }));
    const inserted = metadataAt(`${ISSUER}/.well-known/openid-configuration/tenant1`, () => new HttpResponse('no', { status: 404 }));
    const oidc = metadataAt(`${ISSUER}/tenant1/.well-known/openid-configuration`, () => metadata(TENANT, TENANT_TOKEN_URL));
    const token = tokenEndpoint(undefined, TENANT_TOKEN_URL);
    server.use(rfc8414.handler, inserted.handler, oidc.handler, token.handler);
    const client = makeClient({ tokenEndpoint: undefined, issuer: TENANT });
    expect((await client.getToken()).accessToken).toBe('tok-1');
    expect(rfc8414.seen).toHaveLength(1);
    expect(inserted.seen).toHaveLength(1);
    expect(oidc.seen).toHaveLength(1);
  });

  it('finds OpenID Connect metadata at the path-inserted location the MCP specification lists', async () => {
    const rfc8414 = metadataAt(`${ISSUER}/.well-known/oauth-authorization-server/tenant1`, () => new HttpResponse('no', { status: 404 }));
    const inserted = metadataAt(`${ISSUER}/.well-known/openid-configuration/tenant1`, () => metadata(TENANT, TENANT_TOKEN_URL));
    const token = tokenEndpoint(undefined, TENANT_TOKEN_URL);
    server.use(rfc8414.handler, inserted.handler, token.handler);
    const client = makeClient({ tokenEndpoint: undefined, issuer: TENANT });
    expect((await client.getToken()).accessToken).toBe('tok-1');
    expect(inserted.seen).toHaveLength(1);
  });

  it('fails with INVALID_RESPONSE when neither location has metadata', async () => {
    const rfc8414 = metadataAt(`${ISSUER}/.well-known/oauth-authorization-server`, () => new HttpResponse('no', { status: 404 }));
    const oidc = metadataAt(`${ISSUER}/.well-known/openid-configuration`, () => new HttpResponse('no', { status: 404 }));
    server.use(rfc8414.handler, oidc.handler);
    const error = await rejectionOf(makeClient({ tokenEndpoint: undefined, issuer: ISSUER }).getToken());
    expect(error.code).toBe('INVALID_RESPONSE');
    expect(error.status).toBe(404);
  });

  it.each([
    ['another host', 'https://evil.example.com'],
    ['a trailing slash', `${ISSUER}/`],
    ['different case', 'https://AUTH.example.com'],
  ])('refuses metadata whose issuer differs from the configured one (%s) with INVALID_RESPONSE', async (_, issuer) => {
    const meta = metadataAt(`${ISSUER}/.well-known/oauth-authorization-server`, () => metadata(issuer, TOKEN_URL));
    const token = tokenEndpoint();
    server.use(meta.handler, token.handler);
    const error = await rejectionOf(makeClient({ tokenEndpoint: undefined, issuer: ISSUER }).getToken());
    expect(TokenError.is(error)).toBe(true);
    expect(error.code).toBe('INVALID_RESPONSE');
    expect(token.seen).toHaveLength(0);
  });

  it.each([
    ['no token_endpoint', { issuer: ISSUER }],
    ['a non-string token_endpoint', { issuer: ISSUER, token_endpoint: 5 }],
    ['an array', [{ issuer: ISSUER }]],
  ])('refuses metadata with %s', async (_, body) => {
    server.use(metadataAt(`${ISSUER}/.well-known/oauth-authorization-server`, () => HttpResponse.json(body)).handler);
    const error = await rejectionOf(makeClient({ tokenEndpoint: undefined, issuer: ISSUER }).getToken());
    expect(error.code).toBe('INVALID_RESPONSE');
  });

  it('refuses an http: token_endpoint in metadata for a non-loopback host', async () => {
    const meta = metadataAt(`${ISSUER}/.well-known/oauth-authorization-server`, () =>
      metadata(ISSUER, 'http://auth.example.com/oauth2/token'),
    );
    let insecureHits = 0;
    server.use(
      meta.handler,
      http.post('http://auth.example.com/oauth2/token', () => {
        insecureHits++;
        return HttpResponse.json({ access_token: 'x' });
      }),
    );
    const error = await rejectionOf(makeClient({ tokenEndpoint: undefined, issuer: ISSUER }).getToken());
    expect(error.code).toBe('INVALID_RESPONSE');
    expect(error.message).toContain('token_endpoint');
    expect(insecureHits).toBe(0);
  });

  it('fetches metadata once for concurrent callers (single flight), even for different keys', async () => {
    const gate = deferred();
    const meta = metadataAt(`${ISSUER}/.well-known/oauth-authorization-server`, async () => {
      await gate.promise;
      return metadata(ISSUER, TOKEN_URL);
    });
    const token = tokenEndpoint();
    server.use(meta.handler, token.handler);
    const client = makeClient({ tokenEndpoint: undefined, issuer: ISSUER });
    const calls = [
      ...Array.from({ length: 20 }, () => client.getToken()),
      ...Array.from({ length: 20 }, (_, i) => client.getToken({ scope: `s${i % 4}` })),
    ];
    expect(await stateOf(Promise.all(calls))).toBe('pending');
    gate.resolve();
    await Promise.all(calls);
    expect(meta.seen).toHaveLength(1);
    expect(token.seen).toHaveLength(5);
  });

  it('reuses the metadata for later requests', async () => {
    const meta = metadataAt(`${ISSUER}/.well-known/oauth-authorization-server`, () => metadata(ISSUER, TOKEN_URL));
    const token = tokenEndpoint();
    server.use(meta.handler, token.handler);
    const client = makeClient({ tokenEndpoint: undefined, issuer: ISSUER });
    await client.getToken();
    await client.getToken({ scope: 'other' });
    await client.getToken({ forceRefresh: true });
    expect(token.seen).toHaveLength(3);
    expect(meta.seen).toHaveLength(1);
  });

  it('does not keep a failed discovery: the next call discovers again', async () => {
    const meta = metadataAt(`${ISSUER}/.well-known/oauth-authorization-server`, (n) =>
      n === 1 ? new HttpResponse('down', { status: 500 }) : metadata(ISSUER, TOKEN_URL),
    );
    const token = tokenEndpoint();
    server.use(meta.handler, token.handler);
    const client = makeClient({ tokenEndpoint: undefined, issuer: ISSUER });
    const error = await rejectionOf(client.getToken());
    expect(error.status).toBe(500);
    expect(token.seen).toHaveLength(0);
    expect((await client.getToken()).accessToken).toBe('tok-1');
    expect(meta.seen).toHaveLength(2);
  });

  it('retries a discovery request that fails with a 5xx', async () => {
    const meta = metadataAt(`${ISSUER}/.well-known/oauth-authorization-server`, (n) =>
      n === 1 ? new HttpResponse('down', { status: 503 }) : metadata(ISSUER, TOKEN_URL),
    );
    server.use(meta.handler, tokenEndpoint().handler);
    const client = makeClient({ tokenEndpoint: undefined, issuer: ISSUER, retry: { retries: 2, minDelay: 1, maxDelay: 5 } });
    expect((await client.getToken()).accessToken).toBe('tok-1');
    expect(meta.seen).toHaveLength(2);
  });

  it('does not discover when tokenEndpoint is configured', async () => {
    const meta = metadataAt(`${ISSUER}/.well-known/oauth-authorization-server`, () =>
      metadata(ISSUER, 'https://elsewhere.example.com/token'),
    );
    const token = tokenEndpoint();
    server.use(meta.handler, token.handler);
    const client = makeClient({ tokenEndpoint: TOKEN_URL, issuer: ISSUER });
    await client.getToken();
    expect(meta.seen).toHaveLength(0);
    expect(token.seen).toHaveLength(1);
  });
});
