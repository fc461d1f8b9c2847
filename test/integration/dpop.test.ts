import { createHash, generateKeyPairSync } from 'node:crypto';
import { inspect } from 'node:util';
import { calculateJwkThumbprint, createRemoteJWKSet, EmbeddedJWK, exportJWK, type JWK, jwtVerify, SignJWT } from 'jose';
import { afterEach, describe, expect, it } from 'vitest';
import {
  API_RESOURCE,
  type AuthorizationServer,
  type AuthorizationServerOptions,
  demoClients,
} from '../../examples/support/embedded-server.js';
import { MemoryTokenStore } from '../../src/index.js';
import { type BoundClaims, type BoundResourceServer, jwtHeader, jwtPayload, startDPoPResourceServer } from '../helpers/bound-resource.js';
import { useClients } from '../helpers/core.js';
import { useAuthorizationServer } from './support.js';

/** A private_key_jwt client, to prove that a nonce retry signs a new client assertion too. */
const assertionKey = generateKeyPairSync('ec', { namedCurve: 'P-256' }).privateKey;
const assertionJwk: Record<string, unknown> = {
  ...(assertionKey.export({ format: 'jwk' }) as Record<string, unknown>),
  kid: 'dpop-pkjwt-1',
};
const { d: _d, ...assertionPublicJwk } = assertionJwk;
const PKJWT_CLIENT = 'dpop-pkjwt';

const serverOptions: AuthorizationServerOptions = {
  clients: [{ client_id: PKJWT_CLIENT, token_endpoint_auth_method: 'private_key_jwt', jwks: { keys: [assertionPublicJwk as never] } }],
};
/** oidc-provider 9 with DPoP as it comes (enabled, no nonces). */
const server = useAuthorizationServer(serverOptions);
/** The same with `features.dPoP.nonceSecret` and `requireNonce`: every proof needs a server nonce. */
const nonceServer = useAuthorizationServer({ ...serverOptions, dpopNonce: true });
const newClient = useClients({});

const resourceServers: BoundResourceServer[] = [];
afterEach(async () => {
  await Promise.all(resourceServers.splice(0).map((rs) => rs.close()));
});

/** A request the client sent and what came back. */
interface Exchange {
  readonly method: string;
  readonly url: string;
  readonly headers: Headers;
  readonly form: URLSearchParams;
  readonly status: number;
  readonly nonce: string | null;
  readonly body: string;
}

/** A `fetch` that records each request with its response. */
function recordingFetch(): { fetch: typeof globalThis.fetch; exchanges: Exchange[] } {
  const exchanges: Exchange[] = [];
  const recording: typeof globalThis.fetch = async (input, init) => {
    const url = input instanceof Request ? input.url : String(input);
    const response = await fetch(input, init);
    exchanges.push({
      method: init?.method ?? 'GET',
      url,
      headers: new Headers(init?.headers),
      form: new URLSearchParams(typeof init?.body === 'string' ? init.body : ''),
      status: response.status,
      nonce: response.headers.get('dpop-nonce'),
      body: await response.clone().text(),
    });
    return response;
  };
  return { fetch: recording, exchanges };
}

/** Verifies a DPoP proof as a server would; returns header and payload. */
async function verifyProof(proof: string | null) {
  expect(proof).toBeTypeOf('string');
  const { payload, protectedHeader } = await jwtVerify(proof!, EmbeddedJWK, { typ: 'dpop+jwt' });
  return { payload, header: protectedHeader };
}

/** Claims of a JWT access token for {@link API_RESOURCE}, verified with the authorization server's keys. */
function jwtClaims(as: AuthorizationServer): (token: string) => Promise<BoundClaims | undefined> {
  const jwks = createRemoteJWKSet(new URL(as.jwksUri));
  return async (token) => {
    try {
      return (await jwtVerify(token, jwks, { issuer: as.issuer, audience: API_RESOURCE, typ: 'at+jwt' })).payload as BoundClaims;
    } catch {
      return undefined;
    }
  };
}

/** Claims of an opaque token, by introspection (RFC 7662); `undefined` when inactive. */
function introspectedClaims(as: AuthorizationServer): (token: string) => Promise<BoundClaims | undefined> {
  return async (token) => {
    const result = await as.introspect(token);
    return result.active ? (result as BoundClaims) : undefined;
  };
}

async function dpopResourceServer(claims: (token: string) => Promise<BoundClaims | undefined>, requireNonce = false) {
  const rs = await startDPoPResourceServer({ claims, requireNonce });
  resourceServers.push(rs);
  return rs;
}

const ath = (token: string) => createHash('sha256').update(token).digest('base64url');

describe('DPoP against oidc-provider', () => {
  it('dpop: true proves possession at the token endpoint and gets a DPoP token bound to the key (cnf.jkt)', async () => {
    const as = server();
    const { fetch, exchanges } = recordingFetch();
    const client = newClient({ tokenEndpoint: as.tokenEndpoint, ...demoClients.basic, dpop: true, fetch });

    const token = await client.getToken();

    expect(token.tokenType).toBe('DPoP');
    expect(exchanges).toHaveLength(1);
    const { header, payload } = await verifyProof(exchanges[0]!.headers.get('dpop'));
    expect(header.alg).toBe('ES256');
    expect(header.jwk).toMatchObject({ kty: 'EC', crv: 'P-256' });
    expect(header.jwk).not.toHaveProperty('d');
    expect(payload).toMatchObject({ htm: 'POST', htu: as.tokenEndpoint });
    expect(payload).not.toHaveProperty('ath');
    expect(payload.jti).toBeTypeOf('string');
    expect(Math.abs(payload.iat! - Date.now() / 1000)).toBeLessThan(30);

    const introspection = await as.introspect(token.accessToken);
    expect(introspection.active).toBe(true);
    expect(introspection.token_type).toBe('DPoP');
    expect((introspection.cnf as { jkt: string }).jkt).toBe(await calculateJwkThumbprint(header.jwk!));
  });

  it('a JWT access token carries cnf.jkt, and a resource server that checks the proof accepts client.fetch', async () => {
    const as = server();
    const { fetch, exchanges } = recordingFetch();
    const client = newClient({ issuer: as.issuer, ...demoClients.basic, dpop: true, resource: API_RESOURCE, fetch });
    const rs = await dpopResourceServer(jwtClaims(as));

    const response = await client.fetch(`${rs.url}/orders/42?expand=lines#top`);
    const posted = await client.fetch(`${rs.url}/orders`, { method: 'post', body: JSON.stringify({ item: 1 }) });

    expect(response.status).toBe(200);
    expect(posted.status).toBe(200);
    const token = await client.getToken();
    const claims = (await jwtClaims(as)(token.accessToken))!;
    const tokenProof = await verifyProof(exchanges.find((e) => e.url === as.tokenEndpoint)!.headers.get('dpop'));
    expect(claims.cnf?.jkt).toBe(await calculateJwkThumbprint(tokenProof.header.jwk!));
    expect(((await response.json()) as { jkt: string }).jkt).toBe(claims.cnf?.jkt);

    expect(rs.seen.map((s) => [s.scheme, s.status])).toEqual([
      ['dpop', 200],
      ['dpop', 200],
    ]);
    const [get, post] = rs.seen;
    expect(get!.proof).toMatchObject({ htm: 'GET', htu: `${rs.url}/orders/42`, ath: ath(token.accessToken) });
    expect(post!.proof).toMatchObject({ htm: 'POST', htu: `${rs.url}/orders`, ath: ath(token.accessToken) });
    expect(get!.proof!.jti).not.toBe(post!.proof!.jti);
    expect(get!.proofHeader!.jwk).not.toHaveProperty('d');
  });

  it('the resource server refuses the bound token without its binding: as Bearer, without a proof, with another key, or a replayed proof', async () => {
    const as = server();
    const client = newClient({ issuer: as.issuer, ...demoClients.basic, dpop: true, resource: API_RESOURCE });
    const rs = await dpopResourceServer(jwtClaims(as));
    let captured: string | null = null;
    const api = client.createFetch({
      fetch: async (input, init) => {
        captured = new Headers(init?.headers).get('dpop');
        return fetch(input, init);
      },
    });
    expect((await api(`${rs.url}/orders`)).status).toBe(200);
    const { accessToken } = await client.getToken();

    const asBearer = await fetch(`${rs.url}/orders`, { headers: { authorization: `Bearer ${accessToken}` } });
    const noProof = await fetch(`${rs.url}/orders`, { headers: { authorization: `DPoP ${accessToken}` } });
    const otherKey = generateKeyPairSync('ec', { namedCurve: 'P-256' }).privateKey;
    const { d: _, ...otherPublic } = (await exportJWK(otherKey)) as JWK;
    const foreignProof = await new SignJWT({ htm: 'GET', htu: `${rs.url}/orders`, jti: crypto.randomUUID(), ath: ath(accessToken) })
      .setProtectedHeader({ alg: 'ES256', typ: 'dpop+jwt', jwk: otherPublic })
      .setIssuedAt()
      .sign(otherKey);
    const wrongKey = await fetch(`${rs.url}/orders`, { headers: { authorization: `DPoP ${accessToken}`, dpop: foreignProof } });
    const replayed = await fetch(`${rs.url}/orders`, { headers: { authorization: `DPoP ${accessToken}`, dpop: captured! } });

    expect([asBearer.status, noProof.status, wrongKey.status, replayed.status]).toEqual([401, 401, 401, 401]);
    expect(rs.seen.slice(1).map((s) => s.reason)).toEqual([
      'no DPoP access token',
      'no DPoP proof',
      'token not bound to the proof key',
      'jti missing or replayed',
    ]);
    expect(noProof.headers.get('www-authenticate')).toMatch(/^DPoP /);
  });

  it('dpop: { privateKey } signs with the supplied key: cnf.jkt is that key’s RFC 7638 thumbprint', async () => {
    const as = server();
    const { privateKey, publicKey } = generateKeyPairSync('ed25519');
    const { fetch, exchanges } = recordingFetch();
    const client = newClient({ tokenEndpoint: as.tokenEndpoint, ...demoClients.basic, dpop: { privateKey }, fetch });

    const token = await client.getToken();

    const expected = await calculateJwkThumbprint(await exportJWK(publicKey));
    expect(((await as.introspect(token.accessToken)).cnf as { jkt: string }).jkt).toBe(expected);
    const { header } = await verifyProof(exchanges[0]!.headers.get('dpop'));
    expect(header).toMatchObject({ alg: 'EdDSA', jwk: { kty: 'OKP', crv: 'Ed25519' } });
    const shown = `${inspect(client, { depth: 10, showHidden: true })} ${JSON.stringify(client)}`;
    expect(shown).not.toContain(String((privateKey.export({ format: 'jwk' }) as { d: string }).d));
  });

  it('tokens are cached per DPoP key: clients sharing a store get one token per key, each bound to its own key', async () => {
    const as = server();
    const store = new MemoryTokenStore();
    const keyA = generateKeyPairSync('ec', { namedCurve: 'P-256' }).privateKey;
    const keyB = generateKeyPairSync('ec', { namedCurve: 'P-256' }).privateKey;
    const options = { tokenEndpoint: as.tokenEndpoint, ...demoClients.basic, store };
    const a = newClient({ ...options, dpop: { privateKey: keyA } });
    const b = newClient({ ...options, dpop: { privateKey: keyB } });
    const a2 = newClient({ ...options, dpop: { privateKey: keyA } });
    const bearer = newClient(options);
    const before = as.issued();

    const [ta, tb] = [await a.getToken(), await b.getToken()];
    const ta2 = await a2.getToken();
    const tBearer = await bearer.getToken();

    expect(ta.accessToken).not.toBe(tb.accessToken);
    expect(ta2.accessToken).toBe(ta.accessToken);
    expect(tBearer.tokenType).toBe('Bearer');
    expect(as.issued() - before).toBe(3);
    const jkt = async (token: string) => ((await as.introspect(token)).cnf as { jkt?: string } | undefined)?.jkt;
    expect(await jkt(ta.accessToken)).toBe(await calculateJwkThumbprint(await exportJWK(keyA)));
    expect(await jkt(tb.accessToken)).toBe(await calculateJwkThumbprint(await exportJWK(keyB)));
    expect(await jkt(tBearer.accessToken)).toBeUndefined();
  });

  it('a 401 invalid_token for a DPoP token (revoked server-side) gets a new DPoP token and succeeds', async () => {
    const as = server();
    const client = newClient({ tokenEndpoint: as.tokenEndpoint, ...demoClients.basic, dpop: true });
    const rs = await dpopResourceServer(introspectedClaims(as));
    expect((await client.fetch(`${rs.url}/a`)).status).toBe(200);
    const first = await client.getToken();
    await as.revoke(first.accessToken);

    const response = await client.fetch(`${rs.url}/b`);

    expect(response.status).toBe(200);
    expect(rs.seen.map((s) => [s.path, s.status, s.reason])).toEqual([
      ['/a', 200, undefined],
      ['/b', 401, 'token invalid'],
      ['/b', 200, undefined],
    ]);
    expect((await client.getToken()).accessToken).not.toBe(first.accessToken);
  });

  it('revokes DPoP tokens (revocation takes no proof)', async () => {
    const as = server();
    const client = newClient({ issuer: as.issuer, ...demoClients.basic, dpop: true });
    const token = await client.getToken();

    await client.revoke();

    expect((await as.introspect(token.accessToken)).active).toBe(false);
  });
});

describe('DPoP nonces', () => {
  it('token endpoint (oidc-provider requireNonce): use_dpop_nonce, one retry with the nonce, then the nonce from the start', async () => {
    const as = nonceServer();
    const { fetch, exchanges } = recordingFetch();
    const client = newClient({ issuer: as.issuer, ...demoClients.basic, dpop: true, fetch });

    const token = await client.getToken();

    expect(token.tokenType).toBe('DPoP');
    const posts = exchanges.filter((e) => e.method === 'POST');
    expect(posts.map((e) => e.status)).toEqual([400, 200]);
    expect(JSON.parse(posts[0]!.body)).toMatchObject({ error: 'use_dpop_nonce' });
    expect(posts[0]!.nonce).toBeTypeOf('string');
    const first = await verifyProof(posts[0]!.headers.get('dpop'));
    const second = await verifyProof(posts[1]!.headers.get('dpop'));
    expect(first.payload.nonce).toBeUndefined();
    expect(second.payload.nonce).toBe(posts[0]!.nonce);
    expect(second.payload.jti).not.toBe(first.payload.jti);
    expect(((await as.introspect(token.accessToken)).cnf as { jkt: string }).jkt).toBe(await calculateJwkThumbprint(second.header.jwk!));

    await client.getToken({ forceRefresh: true });

    const later = exchanges.filter((e) => e.method === 'POST').slice(2);
    expect(later.map((e) => e.status)).toEqual([200]);
    expect((await verifyProof(later[0]!.headers.get('dpop'))).payload.nonce).toBeTypeOf('string');
  });

  it('with private_key_jwt, the nonce retry signs a new client assertion (oidc-provider refuses a replayed one)', async () => {
    const as = nonceServer();
    const { fetch, exchanges } = recordingFetch();
    const client = newClient({ tokenEndpoint: as.tokenEndpoint, clientId: PKJWT_CLIENT, privateKey: assertionJwk, dpop: true, fetch });

    const token = await client.getToken();

    expect(exchanges.map((e) => e.status)).toEqual([400, 200]);
    const [a, b] = exchanges.map((e) => jwtPayload(e.form.get('client_assertion')!));
    expect(a!.jti).not.toBe(b!.jti);
    expect(jwtHeader(exchanges[1]!.form.get('client_assertion')!).kid).toBe('dpop-pkjwt-1');
    expect((await as.introspect(token.accessToken)).client_id).toBe(PKJWT_CLIENT);
  });

  it('resource server: 401 use_dpop_nonce, one retry with the nonce; later requests carry it; another origin gets none', async () => {
    const as = server();
    const client = newClient({ issuer: as.issuer, ...demoClients.basic, dpop: true, resource: API_RESOURCE });
    const rs = await dpopResourceServer(jwtClaims(as), true);
    const other = await dpopResourceServer(jwtClaims(as));

    const first = await client.fetch(`${rs.url}/orders`);

    expect(first.status).toBe(200);
    expect(rs.seen.map((s) => [s.status, s.reason])).toEqual([
      [401, 'nonce missing or stale'],
      [200, undefined],
    ]);
    expect(rs.seen[0]!.proof!.nonce).toBeUndefined();
    expect(rs.seen[1]!.proof!.nonce).toBe(rs.nonce());

    expect((await client.fetch(`${rs.url}/orders/2`)).status).toBe(200);
    expect(rs.seen).toHaveLength(3);
    expect(rs.seen[2]!.proof!.nonce).toBe(rs.nonce());

    expect((await client.fetch(`${other.url}/x`)).status).toBe(200);
    expect(other.seen).toHaveLength(1);
    expect(other.seen[0]!.proof!.nonce).toBeUndefined();

    // A new nonce at the server: one more 401 and one retry with it.
    const stale = rs.nonce();
    rs.rotateNonce();
    expect((await client.fetch(`${rs.url}/orders/3`)).status).toBe(200);
    expect(rs.seen.slice(3).map((s) => [s.status, s.proof!.nonce])).toEqual([
      [401, stale],
      [200, rs.nonce()],
    ]);
  });

  it('concurrent first requests to a nonce-requiring resource server all succeed (each retries once)', async () => {
    const as = server();
    const client = newClient({ issuer: as.issuer, ...demoClients.basic, dpop: true, resource: API_RESOURCE });
    const rs = await dpopResourceServer(jwtClaims(as), true);
    await client.getToken();

    const responses = await Promise.all([1, 2, 3].map((n) => client.fetch(`${rs.url}/c/${n}`)));

    expect(responses.map((r) => r.status)).toEqual([200, 200, 200]);
    expect(rs.seen.filter((s) => s.status === 401)).toHaveLength(3);
    expect(rs.seen.filter((s) => s.status === 200)).toHaveLength(3);
  });
});
