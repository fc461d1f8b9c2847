/**
 * Resource discovery (RFC 9728): `client.fetch` on a resource known only by URL finds its metadata,
 * an allowed authorization server, and a token for that resource — and never sends credentials to a
 * server the user did not allow.
 */
import { http, HttpResponse } from 'msw';
import { describe, expect, it } from 'vitest';
import { MemoryTokenStore, TokenError } from '../../src/index.js';
import { rejectionOf, SECRET, useClients } from '../helpers/core.js';
import { REVOKE_URL, revocationEndpoint, TOKEN_URL, tokenEndpoint, useMswServer } from '../helpers/msw.js';

const server = useMswServer();

const RS = 'https://mcp.example.com';
const RESOURCE = `${RS}/mcp`;
const PRM_URL = `${RS}/.well-known/oauth-protected-resource/mcp`;
const AS = 'https://as.example.com';
const AS_TOKEN = `${AS}/oauth2/token`;
const EVIL = 'https://evil.example.com';

const makeClient = useClients({ clientId: 'svc-a', clientSecret: SECRET, retry: false, resourceDiscovery: { authorizationServers: [AS] } });

/** Handlers for every method on `origin`, recording each request. */
function anything(origin: string) {
  const seen: string[] = [];
  const handler = http.all(`${origin}/*`, ({ request }) => {
    seen.push(`${request.method} ${request.url}`);
    return HttpResponse.json({ issuer: origin, token_endpoint: `${origin}/token` });
  });
  return { handler, seen };
}

/** An authorization server's RFC 8414 metadata. */
function asMetadata(issuer = AS, token = AS_TOKEN) {
  const seen: string[] = [];
  const handler = http.get(`${issuer}/.well-known/oauth-authorization-server`, ({ request }) => {
    seen.push(request.url);
    return HttpResponse.json({ issuer, token_endpoint: token });
  });
  return { handler, seen };
}

/** Protected resource metadata at `url`. */
function prm(body: Record<string, unknown> | (() => Response), url = PRM_URL) {
  const seen: string[] = [];
  const handler = http.get(url, ({ request }) => {
    seen.push(request.url);
    return typeof body === 'function' ? body() : HttpResponse.json(body);
  });
  return { handler, seen };
}

const CHALLENGE = `Bearer resource_metadata="${PRM_URL}", scope="tools:read"`;

/**
 * A resource server: 401 with `challenge` without a token; `answer(authorization, dpop)` with one (by
 * default 200 with the authorization it saw).
 */
function resourceServer(
  challenge = CHALLENGE,
  answer: (authorization: string, dpop: string | null) => Response = (authorization) => HttpResponse.json({ authorization }),
  url = RESOURCE,
) {
  const seen: (string | null)[] = [];
  const handler = http.post(url, ({ request }) => {
    const authorization = request.headers.get('authorization');
    seen.push(authorization);
    if (authorization === null) return new HttpResponse('no', { status: 401, headers: { 'www-authenticate': challenge } });
    return answer(authorization, request.headers.get('dpop'));
  });
  return { handler, seen };
}

/** A resource server that refuses the tokens of the client's own server (`own-n`) with a challenge naming its metadata. */
const refusingOwnTokens = () =>
  resourceServer(CHALLENGE, (authorization) =>
    authorization.startsWith('Bearer own-')
      ? new HttpResponse('no', { status: 401, headers: { 'www-authenticate': `${CHALLENGE}, error="invalid_token"` } })
      : HttpResponse.json({ authorization }),
  );

const post = (client: ReturnType<typeof makeClient>, url = RESOURCE) => client.fetch(url, { method: 'POST', body: '{"jsonrpc":"2.0"}' });

describe('resource discovery', () => {
  it('answers a 401 naming resource_metadata with a token for that resource from the allowed server, and sends again', async () => {
    const rs = resourceServer();
    const meta = prm({ resource: RESOURCE, authorization_servers: [AS], scopes_supported: ['tools:read', 'tools:admin'] });
    const as = asMetadata();
    const token = tokenEndpoint(undefined, AS_TOKEN);
    server.use(rs.handler, meta.handler, as.handler, token.handler);
    const client = makeClient();
    const keys: string[] = [];
    client.on('token', (e) => keys.push(e.key));

    const response = await post(client);
    expect(response.status).toBe(200);
    expect(keys).toEqual([`scope=tools:read resource=${RESOURCE} issuer=${AS}`]);
    expect(await response.json()).toEqual({ authorization: 'Bearer tok-1' });
    expect(token.seen).toHaveLength(1);
    expect(token.seen[0]!.form.get('resource')).toBe(RESOURCE);
    // The challenge's scope wins over scopes_supported.
    expect(token.seen[0]!.form.get('scope')).toBe('tools:read');
    expect(rs.seen).toEqual([null, 'Bearer tok-1']);

    // Known now: the next request carries the token at once, no second discovery.
    expect((await post(client)).status).toBe(200);
    expect(rs.seen).toEqual([null, 'Bearer tok-1', 'Bearer tok-1']);
    expect(meta.seen).toHaveLength(1);
    expect(as.seen).toHaveLength(1);
    expect(token.seen).toHaveLength(1);
  });

  it('requests scopes_supported when the challenge names no scope', async () => {
    const rs = resourceServer(`Bearer resource_metadata="${PRM_URL}"`);
    const meta = prm({ resource: RESOURCE, authorization_servers: [AS], scopes_supported: ['tools:read', 'tools:admin'] });
    const token = tokenEndpoint(undefined, AS_TOKEN);
    server.use(rs.handler, meta.handler, asMetadata().handler, token.handler);
    expect((await post(makeClient())).status).toBe(200);
    expect(token.seen[0]!.form.get('scope')).toBe('tools:read tools:admin');
  });

  it('refuses with CONFIG a resource that names only servers the user did not allow: the evil server gets no request at all', async () => {
    const rs = resourceServer();
    const meta = prm({ resource: RESOURCE, authorization_servers: [EVIL] });
    const evil = anything(EVIL);
    server.use(rs.handler, meta.handler, evil.handler);
    const error = await rejectionOf(post(makeClient()));
    expect(TokenError.is(error)).toBe(true);
    expect(error.code).toBe('CONFIG');
    expect(evil.seen).toEqual([]);
    expect(rs.seen).toEqual([null]);
  });

  it('compares issuer identifiers exactly: a trailing slash is another server', async () => {
    const meta = prm({ resource: RESOURCE, authorization_servers: [`${AS}/`] });
    const as = anything(AS);
    server.use(resourceServer().handler, meta.handler, as.handler);
    expect((await rejectionOf(post(makeClient()))).code).toBe('CONFIG');
    expect(as.seen).toEqual([]);
  });

  it('chooses the first allowed server of those the resource names', async () => {
    const meta = prm({ resource: RESOURCE, authorization_servers: [EVIL, AS] });
    const evil = anything(EVIL);
    const token = tokenEndpoint(undefined, AS_TOKEN);
    server.use(resourceServer().handler, meta.handler, asMetadata().handler, token.handler, evil.handler);
    expect((await post(makeClient())).status).toBe(200);
    expect(token.seen).toHaveLength(1);
    expect(evil.seen).toEqual([]);
  });

  it('refuses metadata for another resource (RFC 9728 §3.3) with INVALID_RESPONSE, before any token request', async () => {
    const meta = prm({ resource: `${RS}/other`, authorization_servers: [AS] });
    const as = anything(AS);
    server.use(resourceServer().handler, meta.handler, as.handler);
    const error = await rejectionOf(post(makeClient()));
    expect(error.code).toBe('INVALID_RESPONSE');
    expect(as.seen).toEqual([]);
  });

  it('never follows a metadata redirect, and never fetches a resource_metadata on another origin', async () => {
    const elsewhere = anything(EVIL);
    const redirect = prm(() => new HttpResponse(null, { status: 302, headers: { location: `${EVIL}/prm` } }));
    server.use(resourceServer().handler, redirect.handler, elsewhere.handler);
    await expect(post(makeClient())).rejects.toBeInstanceOf(TokenError);
    expect(redirect.seen).toHaveLength(1);

    server.use(resourceServer(`Bearer resource_metadata="${EVIL}/.well-known/oauth-protected-resource"`).handler);
    expect((await rejectionOf(post(makeClient()))).code).toBe('INVALID_RESPONSE');
    expect(elsewhere.seen).toEqual([]);
  });

  it('reads no more metadata than maxResponseBytes', async () => {
    const huge = { resource: RESOURCE, authorization_servers: [AS], padding: 'x'.repeat(5000) };
    server.use(resourceServer().handler, prm(huge).handler);
    const error = await rejectionOf(post(makeClient({ maxResponseBytes: 4096 })));
    expect(error.code).toBe('INVALID_RESPONSE');
    expect(error.message).toMatch(/larger than 4096 bytes/);
  });

  it('without resource_metadata, looks at the well-known URL inserted before the path, then at the root', async () => {
    const inserted = prm(() => new HttpResponse('no', { status: 404 }));
    const root = prm({ resource: RS, authorization_servers: [AS] }, `${RS}/.well-known/oauth-protected-resource`);
    const token = tokenEndpoint(undefined, AS_TOKEN);
    server.use(resourceServer('Bearer').handler, inserted.handler, root.handler, asMetadata().handler, token.handler);
    expect((await post(makeClient())).status).toBe(200);
    expect(inserted.seen).toEqual([PRM_URL]);
    expect(root.seen).toHaveLength(1);
    expect(token.seen[0]!.form.get('resource')).toBe(RS);
  });

  it('gives the 401 back when no metadata is found', async () => {
    const none = http.get(`${RS}/.well-known/*`, () => new HttpResponse('no', { status: 404 }));
    server.use(resourceServer('Bearer').handler, none);
    expect((await post(makeClient())).status).toBe(401);
  });

  it('makes one metadata request, one discovery and one token request for twenty concurrent requests', async () => {
    const rs = resourceServer();
    const meta = prm({ resource: RESOURCE, authorization_servers: [AS] });
    const as = asMetadata();
    const token = tokenEndpoint(undefined, AS_TOKEN);
    server.use(rs.handler, meta.handler, as.handler, token.handler);
    const client = makeClient();
    const responses = await Promise.all(Array.from({ length: 20 }, () => post(client)));
    expect(responses.map((r) => r.status)).toEqual(Array(20).fill(200));
    expect(meta.seen).toHaveLength(1);
    expect(as.seen).toHaveLength(1);
    expect(token.seen).toHaveLength(1);
  });

  it('keeps tokens per authorization server: two resources at two servers get their own token from their own endpoint', async () => {
    const AS2 = 'https://as2.example.com';
    const RS2 = 'https://tools.example.com/mcp';
    const PRM2 = 'https://tools.example.com/.well-known/oauth-protected-resource/mcp';
    const token1 = tokenEndpoint(undefined, AS_TOKEN);
    const token2 = tokenEndpoint(
      (n) => HttpResponse.json({ access_token: `other-${n}`, token_type: 'Bearer', expires_in: 3600 }),
      `${AS2}/token`,
    );
    server.use(
      resourceServer().handler,
      resourceServer(`Bearer resource_metadata="${PRM2}", scope="tools:read"`, undefined, RS2).handler,
      prm({ resource: RESOURCE, authorization_servers: [AS] }).handler,
      prm({ resource: RS2, authorization_servers: [AS2] }, PRM2).handler,
      asMetadata().handler,
      asMetadata(AS2, `${AS2}/token`).handler,
      token1.handler,
      token2.handler,
    );
    const client = makeClient({ resourceDiscovery: { authorizationServers: [AS, AS2] } });
    expect(await (await post(client)).json()).toEqual({ authorization: 'Bearer tok-1' });
    expect(await (await post(client, RS2)).json()).toEqual({ authorization: 'Bearer other-1' });
    expect(token1.seen).toHaveLength(1);
    expect(token2.seen).toHaveLength(1);
  });

  it("shares a discovered token through a store, and keeps it apart from the same scope and resource at the client's own server", async () => {
    const store = new MemoryTokenStore();
    const token = tokenEndpoint(undefined, AS_TOKEN);
    const own = tokenEndpoint((n) => HttpResponse.json({ access_token: `own-${n}`, token_type: 'Bearer', expires_in: 3600 }));
    server.use(
      refusingOwnTokens().handler,
      prm({ resource: RESOURCE, authorization_servers: [AS] }).handler,
      asMetadata().handler,
      token.handler,
      own.handler,
    );
    const first = makeClient({ store, tokenEndpoint: TOKEN_URL });
    expect(await (await post(first)).json()).toEqual({ authorization: 'Bearer tok-1' });
    // Another client (another process) adopts it from the store: no second token request.
    expect(await (await post(makeClient({ store, tokenEndpoint: TOKEN_URL }))).json()).toEqual({ authorization: 'Bearer tok-1' });
    expect(token.seen).toHaveLength(1);
    // The same scope and resource asked of the client's own server: its own token, not the discovered one.
    const ownToken = await first.getToken({ scope: 'tools:read', resource: RESOURCE });
    expect(ownToken.accessToken).toMatch(/^own-/);
    expect(own.seen.at(-1)!.form.get('resource')).toBe(RESOURCE);
  });

  it('steps up once on 403 insufficient_scope: one token with the union of scopes, one more attempt', async () => {
    const rs = resourceServer(CHALLENGE, (authorization) =>
      authorization === 'Bearer tok-2'
        ? HttpResponse.json({ ok: true })
        : new HttpResponse('no', {
            status: 403,
            headers: { 'www-authenticate': 'Bearer error="insufficient_scope", scope="tools:admin"' },
          }),
    );
    const token = tokenEndpoint(undefined, AS_TOKEN);
    server.use(rs.handler, prm({ resource: RESOURCE, authorization_servers: [AS] }).handler, asMetadata().handler, token.handler);
    const client = makeClient();
    const response = await post(client);
    expect(response.status).toBe(200);
    expect(token.seen.map((s) => s.form.get('scope'))).toEqual(['tools:read', 'tools:read tools:admin']);
    expect(rs.seen).toEqual([null, 'Bearer tok-1', 'Bearer tok-2']);
  });

  it('gives a second 403 back to the caller after one step-up', async () => {
    const forbidden = () =>
      new HttpResponse('no', { status: 403, headers: { 'www-authenticate': 'Bearer error="insufficient_scope", scope="tools:admin"' } });
    const rs = resourceServer(CHALLENGE, forbidden);
    const token = tokenEndpoint(undefined, AS_TOKEN);
    server.use(rs.handler, prm({ resource: RESOURCE, authorization_servers: [AS] }).handler, asMetadata().handler, token.handler);
    const response = await post(makeClient());
    expect(response.status).toBe(403);
    expect(token.seen).toHaveLength(2);
    expect(rs.seen).toHaveLength(3);
  });

  it('binds tokens with DPoP for a resource whose metadata requires it, with a key made for it', async () => {
    const rs = resourceServer(CHALLENGE, (authorization, dpop) =>
      HttpResponse.json({ authorization: authorization.split(' ')[0], dpop: dpop !== null }),
    );
    const token = tokenEndpoint(
      (n, seen) =>
        HttpResponse.json({
          access_token: `tok-${n}`,
          token_type: seen.headers.get('dpop') === null ? 'Bearer' : 'DPoP',
          expires_in: 3600,
        }),
      AS_TOKEN,
    );
    const meta = prm({ resource: RESOURCE, authorization_servers: [AS], dpop_bound_access_tokens_required: true });
    server.use(rs.handler, meta.handler, asMetadata().handler, token.handler);
    const response = await post(makeClient());
    expect(await response.json()).toEqual({ authorization: 'DPoP', dpop: true });
    expect(token.seen[0]!.headers.get('dpop')).not.toBeNull();
  });

  it("never sends a discovered server's token to the client's own revocation endpoint", async () => {
    const own = tokenEndpoint((n) => HttpResponse.json({ access_token: `own-${n}`, token_type: 'Bearer', expires_in: 3600 }));
    const revocation = revocationEndpoint();
    const rs = refusingOwnTokens();
    server.use(
      rs.handler,
      prm({ resource: RESOURCE, authorization_servers: [AS] }).handler,
      asMetadata().handler,
      tokenEndpoint(undefined, AS_TOKEN).handler,
      own.handler,
      revocation.handler,
    );
    const client = makeClient({ tokenEndpoint: TOKEN_URL, revocationEndpoint: REVOKE_URL });
    await client.getToken();
    // The default token goes first, is refused with resource_metadata: discovery, not a new default token.
    const response = await post(client);
    expect(await response.json()).toEqual({ authorization: 'Bearer tok-1' });
    expect(own.seen).toHaveLength(1);
    expect(rs.seen).toEqual(['Bearer own-1', 'Bearer tok-1']);
    const result = await client.close({ revoke: true });
    expect(revocation.tokens).toEqual(['own-1']);
    expect(result.revoked).toBe(1);
  });

  it('needs the allow-list: resourceDiscovery without authorizationServers is a TypeError', () => {
    expect(() => makeClient({ resourceDiscovery: {} as never })).toThrow(/resourceDiscovery.authorizationServers/);
    expect(() => makeClient({ resourceDiscovery: { authorizationServers: [] } })).toThrow(TypeError);
  });

  it('without a server of its own, getToken() is a CONFIG error', async () => {
    expect((await rejectionOf(makeClient().getToken())).code).toBe('CONFIG');
  });
});
