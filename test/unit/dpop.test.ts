import { createHash, generateKeyPairSync, type KeyObject } from 'node:crypto';
import { inspect } from 'node:util';
import { calculateJwkThumbprint, EmbeddedJWK, exportJWK, jwtVerify } from 'jose';
import { http, HttpResponse } from 'msw';
import { describe, expect, it } from 'vitest';
import { MemoryTokenStore, OAuthError } from '../../src/index.js';
import { leakyToken, SECRET, useClients } from '../helpers/core.js';
import { TOKEN_URL, tokenEndpoint, useMswServer } from '../helpers/msw.js';
import { API, RESOURCE_CLIENT, resourceEndpoint } from '../helpers/resource.js';

const server = useMswServer();
const newClient = useClients(RESOURCE_CLIENT);

const ORDERS = `${API}/orders`;
const OTHER_API = 'https://other-api.example.com';

const dpopToken = (n: number, type = 'DPoP') => HttpResponse.json({ access_token: leakyToken(n), token_type: type, expires_in: 3600 });
const ath = (token: string) => createHash('sha256').update(token).digest('base64url');

/** Verifies a proof the way a server does (signature by the header's key, typ) and returns it. */
async function proof(jwt: string | null | undefined) {
  expect(jwt).toBeTypeOf('string');
  const { payload, protectedHeader } = await jwtVerify(jwt!, EmbeddedJWK, { typ: 'dpop+jwt' });
  return { payload, header: protectedHeader };
}

/** A 400 `use_dpop_nonce` from the token endpoint (RFC 9449 §8). */
const tokenNonceError = (nonce: string | undefined) =>
  HttpResponse.json(
    { error: 'use_dpop_nonce', error_description: 'Authorization server requires nonce in DPoP proof' },
    {
      status: 400,
      headers: nonce === undefined ? {} : { 'dpop-nonce': nonce },
    },
  );

/** A 401 `use_dpop_nonce` from a resource server (RFC 9449 §9). */
const resourceNonceError = (nonce: string | undefined) =>
  new HttpResponse('nonce please', {
    status: 401,
    headers: {
      'www-authenticate': 'DPoP error="use_dpop_nonce", error_description="Resource server requires nonce in DPoP proof"',
      ...(nonce === undefined ? {} : { 'dpop-nonce': nonce }),
    },
  });

describe('DPoP proofs', () => {
  it('token request: typ dpop+jwt, ES256 by default, public jwk only, htm POST, htu without query, iat, jti, no ath', async () => {
    const tokens = tokenEndpoint(() => dpopToken(1));
    server.use(tokens.handler);
    const client = newClient({ tokenEndpoint: `${TOKEN_URL}?tenant=a`, dpop: true });

    const token = await client.getToken();

    expect(token.tokenType).toBe('DPoP');
    const { header, payload } = await proof(tokens.seen[0]!.headers.get('dpop'));
    expect(header.alg).toBe('ES256');
    expect(header.typ).toBe('dpop+jwt');
    expect(Object.keys(header.jwk!).sort()).toEqual(['crv', 'kty', 'x', 'y']);
    expect(header.jwk).toMatchObject({ kty: 'EC', crv: 'P-256' });
    expect(Object.keys(payload).sort()).toEqual(['htm', 'htu', 'iat', 'jti']);
    expect(payload).toMatchObject({ htm: 'POST', htu: TOKEN_URL });
    expect(Math.abs(payload.iat! - Date.now() / 1000)).toBeLessThan(5);
  });

  it('resource requests: a fresh proof each, htm the method as fetch sends it (patch stays lower-case), htu without query and fragment, ath of the token; Authorization: DPoP', async () => {
    const api = resourceEndpoint(`${API}/*`);
    server.use(tokenEndpoint(() => dpopToken(1)).handler, api.handler);
    const client = newClient({ dpop: true });

    await client.fetch(`${ORDERS}/7?expand=lines#frag`, { method: 'patch', body: '{}' });
    await client.fetch(new Request(`${API}/invoices?x=1`, { method: 'DELETE' }));
    await client.fetch(ORDERS);

    expect(api.seen.map((s) => s.authorization)).toEqual(Array(3).fill(`DPoP ${leakyToken(1)}`));
    const proofs = await Promise.all(api.seen.map((s) => proof(s.headers.get('dpop'))));
    expect(proofs.map((p) => [p.payload.htm, p.payload.htu, p.payload.ath])).toEqual([
      ['patch', `${ORDERS}/7`, ath(leakyToken(1))],
      ['DELETE', `${API}/invoices`, ath(leakyToken(1))],
      ['GET', ORDERS, ath(leakyToken(1))],
    ]);
    expect(new Set(proofs.map((p) => p.payload.jti)).size).toBe(3);
    for (const p of proofs) expect(p.header.jwk).not.toHaveProperty('d');
  });

  it('every key is the same for the life of the client, and matches the token request proof (one thumbprint)', async () => {
    const tokens = tokenEndpoint(() => dpopToken(1));
    const api = resourceEndpoint(ORDERS);
    server.use(tokens.handler, api.handler);
    const client = newClient({ dpop: true });
    await client.fetch(ORDERS);
    await client.fetch(ORDERS);

    const jwks = await Promise.all(
      [tokens.seen[0]!.headers.get('dpop'), ...api.seen.map((s) => s.headers.get('dpop'))].map(async (p) => (await proof(p)).header.jwk!),
    );
    const thumbprints = await Promise.all(jwks.map((jwk) => calculateJwkThumbprint(jwk)));
    expect(new Set(thumbprints).size).toBe(1);
  });

  it('each redirect hop on the same origin gets its own proof for the new URL; another origin gets neither proof nor token', async () => {
    const api = resourceEndpoint(`${API}/*`, (n) =>
      n === 1
        ? new HttpResponse(null, { status: 307, headers: { location: `${API}/moved?y=2` } })
        : new HttpResponse(null, { status: 302, headers: { location: `${OTHER_API}/x` } }),
    );
    const other = resourceEndpoint(`${OTHER_API}/*`);
    server.use(tokenEndpoint(() => dpopToken(1)).handler, api.handler, other.handler);

    const response = await newClient({ dpop: true }).fetch(`${API}/start`, { method: 'POST', body: 'b' });

    expect(response.status).toBe(200);
    const [first, second] = await Promise.all(api.seen.map((s) => proof(s.headers.get('dpop'))));
    expect(first!.payload).toMatchObject({ htm: 'POST', htu: `${API}/start` });
    expect(second!.payload).toMatchObject({ htm: 'POST', htu: `${API}/moved` });
    expect(second!.payload.jti).not.toBe(first!.payload.jti);
    expect(other.seen[0]!.headers.has('dpop')).toBe(false);
    expect(other.seen[0]!.authorization).toBeNull();
  });

  it('a Bearer token_type with dpop enabled is sent as Bearer, without a DPoP header', async () => {
    const tokens = tokenEndpoint(() => dpopToken(1, 'Bearer'));
    const api = resourceEndpoint(ORDERS);
    server.use(tokens.handler, api.handler);

    await newClient({ dpop: true }).fetch(ORDERS);

    expect(tokens.seen[0]!.headers.has('dpop')).toBe(true);
    expect(api.seen[0]!.authorization).toBe(`Bearer ${leakyToken(1)}`);
    expect(api.seen[0]!.headers.has('dpop')).toBe(false);
  });

  it('without dpop no proof is ever sent', async () => {
    const tokens = tokenEndpoint();
    const api = resourceEndpoint(ORDERS);
    server.use(tokens.handler, api.handler);
    await newClient().fetch(ORDERS);
    expect(tokens.seen[0]!.headers.has('dpop')).toBe(false);
    expect(api.seen[0]!.headers.has('dpop')).toBe(false);
  });
});

describe('DPoP keys', () => {
  const pairs = {
    p256: generateKeyPairSync('ec', { namedCurve: 'P-256' }),
    p384: generateKeyPairSync('ec', { namedCurve: 'P-384' }),
    ed25519: generateKeyPairSync('ed25519'),
    rsaPss: generateKeyPairSync('rsa-pss', { modulusLength: 2048 }),
    rsa: generateKeyPairSync('rsa', { modulusLength: 2048 }),
  };

  it.each([
    ['a P-384 JWK', () => pairs.p384.privateKey.export({ format: 'jwk' }), pairs.p384.publicKey, 'ES384', undefined],
    [
      'an Ed25519 PEM',
      () => pairs.ed25519.privateKey.export({ type: 'pkcs8', format: 'pem' }),
      pairs.ed25519.publicKey,
      'EdDSA',
      undefined,
    ],
    ['an RSA KeyObject with alg PS256', () => pairs.rsa.privateKey, pairs.rsa.publicKey, 'PS256', 'PS256'],
  ] as const)(
    'dpop: { privateKey } with %s signs with that key (RFC 7638 thumbprint of its public key)',
    async (_name, input, publicKey, alg, algOption) => {
      const tokens = tokenEndpoint(() => dpopToken(1));
      server.use(tokens.handler);
      await newClient({ dpop: { privateKey: input() as never, ...(algOption && { alg: algOption }) } }).getToken();

      const { header } = await proof(tokens.seen[0]!.headers.get('dpop'));
      expect(header.alg).toBe(alg);
      expect(await calculateJwkThumbprint(header.jwk!)).toBe(await calculateJwkThumbprint(await exportJWK(publicKey)));
      expect(header.jwk).not.toHaveProperty('d');
    },
  );

  it('an RSA-PSS key proves with PS256 (its RSA public key in the header)', async () => {
    const tokens = tokenEndpoint(() => dpopToken(1));
    server.use(tokens.handler);
    await newClient({ dpop: { privateKey: pairs.rsaPss.privateKey } }).getToken();
    const { header } = await proof(tokens.seen[0]!.headers.get('dpop'));
    expect(header).toMatchObject({ alg: 'PS256', jwk: { kty: 'RSA' } });
    expect(Object.keys(header.jwk!).sort()).toEqual(['e', 'kty', 'n']);
  });

  it.each<[string, () => unknown, RegExp]>([
    ['a public key', () => ({ privateKey: pairs.p256.publicKey }), /`dpop\.privateKey` must be a private key/],
    [
      'an alg that does not fit',
      () => ({ privateKey: pairs.p256.privateKey, alg: 'RS256' }),
      /algorithm RS256 does not fit .*`dpop\.privateKey`/,
    ],
    ['garbage', () => ({ privateKey: 'nope' }), /`dpop\.privateKey` is not a private key/],
    ['a string', () => 'yes', /`dpop` must be a boolean or \{ privateKey, alg \}/],
  ])('dpop with %s is a TypeError naming the option', (_name, dpop, message) => {
    let error: unknown;
    try {
      newClient({ dpop: dpop() as never });
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(TypeError);
    expect((error as Error).message).toMatch(message);
    const d = (pairs.p256.privateKey.export({ format: 'jwk' }) as { d: string }).d;
    expect((error as Error).message).not.toContain(d);
  });

  it('tokens are cached per DPoP key: clients with different keys sharing a MemoryTokenStore get separate tokens', async () => {
    const tokens = tokenEndpoint((n) => dpopToken(n));
    server.use(tokens.handler);
    const store = new MemoryTokenStore();
    const keyA = pairs.p256.privateKey;
    const keyB = generateKeyPairSync('ec', { namedCurve: 'P-256' }).privateKey;

    const a = await newClient({ store, dpop: { privateKey: keyA } }).getToken();
    const b = await newClient({ store, dpop: { privateKey: keyB } }).getToken();
    const a2 = await newClient({ store, dpop: { privateKey: keyA } }).getToken();
    const plain = await newClient({ store }).getToken();

    expect([a, b, a2, plain].map((t) => t.accessToken)).toEqual([leakyToken(1), leakyToken(2), leakyToken(1), leakyToken(3)]);
    expect(tokens.seen).toHaveLength(3);
  });

  it('dpop: true generates a different key per client (so no two clients share tokens through a store)', async () => {
    const tokens = tokenEndpoint((n) => dpopToken(n));
    server.use(tokens.handler);
    const store = new MemoryTokenStore();
    await newClient({ store, dpop: true }).getToken();
    await newClient({ store, dpop: true }).getToken();
    const thumbprints = await Promise.all(
      tokens.seen.map(async (s) => calculateJwkThumbprint((await proof(s.headers.get('dpop'))).header.jwk!)),
    );
    expect(tokens.seen).toHaveLength(2);
    expect(thumbprints[0]).not.toBe(thumbprints[1]);
  });

  it('inspect and JSON of the client never show the DPoP private key', () => {
    const key: KeyObject = pairs.p256.privateKey;
    const { d } = key.export({ format: 'jwk' }) as { d: string };
    const pemBody = (key.export({ type: 'pkcs8', format: 'pem' }) as string).split('\n')[1]!;
    for (const client of [
      newClient({ dpop: { privateKey: key } }),
      newClient({ dpop: { privateKey: key.export({ format: 'jwk' }) as never } }),
    ]) {
      const text = `${inspect(client, { depth: 20, showHidden: true })} ${JSON.stringify(client)}`;
      expect(text).not.toContain(d);
      expect(text).not.toContain(pemBody);
    }
  });
});

describe('DPoP nonces at the token endpoint', () => {
  it('use_dpop_nonce: exactly one more request with the nonce (new proof), not counted as a retry', async () => {
    const tokens = tokenEndpoint((n) => (n === 1 ? tokenNonceError('n-1') : dpopToken(n)));
    server.use(tokens.handler);
    const client = newClient({ dpop: true, retry: false });

    const token = await client.getToken();

    expect(token.accessToken).toBe(leakyToken(2));
    const [first, second] = await Promise.all(tokens.seen.map((s) => proof(s.headers.get('dpop'))));
    expect(first!.payload.nonce).toBeUndefined();
    expect(second!.payload.nonce).toBe('n-1');
    expect(second!.payload.jti).not.toBe(first!.payload.jti);
  });

  it('a second use_dpop_nonce is returned as an OAuthError (no loop)', async () => {
    const tokens = tokenEndpoint((n) => tokenNonceError(`n-${n}`));
    server.use(tokens.handler);

    const error = await newClient({ dpop: true, retry: { retries: 3, minDelay: 0, maxDelay: 0 } })
      .getToken()
      .catch((e: unknown) => e);

    expect(error).toBeInstanceOf(OAuthError);
    expect((error as OAuthError).error).toBe('use_dpop_nonce');
    expect((error as OAuthError).status).toBe(400);
    expect(tokens.seen).toHaveLength(2);
  });

  it('use_dpop_nonce without a DPoP-Nonce header, or with the nonce the proof already carried, is not retried', async () => {
    const seen: Headers[] = [];
    server.use(
      http.post(TOKEN_URL, ({ request }) => {
        seen.push(request.headers);
        // The first (successful) response hands out the nonce 'same'; later proofs carry it.
        if (seen.length === 1)
          return HttpResponse.json(
            { access_token: leakyToken(1), token_type: 'DPoP', expires_in: 3600 },
            { headers: { 'dpop-nonce': 'same' } },
          );
        return tokenNonceError(seen.length === 2 ? undefined : 'same');
      }),
    );
    const client = newClient({ dpop: true });
    await client.getToken();

    const noHeader = await client.getToken({ forceRefresh: true }).catch((e: unknown) => e);
    const sameNonce = await client.getToken({ forceRefresh: true }).catch((e: unknown) => e);

    expect((noHeader as OAuthError).error).toBe('use_dpop_nonce');
    expect((sameNonce as OAuthError).error).toBe('use_dpop_nonce');
    expect(seen).toHaveLength(3);
    expect((await proof(seen[1]!.get('dpop'))).payload.nonce).toBe('same');
    expect((await proof(seen[2]!.get('dpop'))).payload.nonce).toBe('same');
  });

  it('a nonce is remembered from the start for later token requests, and is never sent to another origin', async () => {
    const tokens = tokenEndpoint((n) => (n === 1 ? tokenNonceError('as-nonce') : dpopToken(n)));
    const api = resourceEndpoint(ORDERS);
    server.use(tokens.handler, api.handler);
    const client = newClient({ dpop: true });

    await client.fetch(ORDERS);
    await client.getToken({ forceRefresh: true });

    expect(tokens.seen).toHaveLength(3);
    expect((await proof(tokens.seen[2]!.headers.get('dpop'))).payload.nonce).toBe('as-nonce');
    expect((await proof(api.seen[0]!.headers.get('dpop'))).payload.nonce).toBeUndefined();
  });

  it('only a 400 use_dpop_nonce triggers the nonce request: other errors with a DPoP-Nonce are returned as they are', async () => {
    const tokens = tokenEndpoint(() => HttpResponse.json({ error: 'invalid_dpop_proof' }, { status: 400, headers: { 'dpop-nonce': 'x' } }));
    server.use(tokens.handler);
    const error = await newClient({ dpop: true })
      .getToken()
      .catch((e: unknown) => e);
    expect((error as OAuthError).error).toBe('invalid_dpop_proof');
    expect(tokens.seen).toHaveLength(1);
  });

  it('with private_key_jwt the nonce request carries a new client assertion too', async () => {
    const tokens = tokenEndpoint((n) => (n === 1 ? tokenNonceError('n') : dpopToken(n)));
    server.use(tokens.handler);
    const { privateKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
    await newClient({ clientSecret: undefined, privateKey, dpop: true }).getToken();
    const assertions = tokens.seen.map((s) => s.form.get('client_assertion'));
    expect(assertions).toHaveLength(2);
    expect(assertions[0]).not.toBe(assertions[1]);
  });

  it('the OAuthError of a failed nonce exchange names neither the secret nor a key', async () => {
    const tokens = tokenEndpoint((n) => tokenNonceError(`n-${n}`));
    server.use(tokens.handler);
    const { privateKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
    const client = newClient({ dpop: { privateKey } });
    const error = await client.getToken().catch((e: unknown) => e);
    const text = `${String(error)} ${inspect(error, { depth: 10 })} ${JSON.stringify(error)}`;
    expect(text).not.toContain(SECRET);
    expect(text).not.toContain((privateKey.export({ format: 'jwk' }) as { d: string }).d);
  });
});

describe('DPoP nonces at resource servers', () => {
  it('401 use_dpop_nonce: one retry with the nonce and the same body; later requests to that origin carry it; another origin gets none', async () => {
    const tokens = tokenEndpoint(() => dpopToken(1));
    const api = resourceEndpoint(`${API}/*`, (n) => (n === 1 ? resourceNonceError('rs-1') : HttpResponse.text('ok')));
    const other = resourceEndpoint(`${OTHER_API}/*`);
    server.use(tokens.handler, api.handler, other.handler);
    const client = newClient({ dpop: true });

    const response = await client.fetch(ORDERS, { method: 'POST', body: 'payload' });
    await client.fetch(`${API}/later`);
    await client.fetch(`${OTHER_API}/x`);

    expect(response.status).toBe(200);
    expect(api.seen.map((s) => [s.method, s.body])).toEqual([
      ['POST', 'payload'],
      ['POST', 'payload'],
      ['GET', ''],
    ]);
    const nonces = await Promise.all(api.seen.map(async (s) => (await proof(s.headers.get('dpop'))).payload.nonce));
    expect(nonces).toEqual([undefined, 'rs-1', 'rs-1']);
    expect((await proof(other.seen[0]!.headers.get('dpop'))).payload.nonce).toBeUndefined();
    expect(tokens.seen).toHaveLength(1);
  });

  it('a second 401 use_dpop_nonce is returned to the caller (exactly one nonce retry), and the token is kept', async () => {
    const tokens = tokenEndpoint(() => dpopToken(1));
    const api = resourceEndpoint(ORDERS, (n) => resourceNonceError(`rs-${n}`));
    server.use(tokens.handler, api.handler);
    const client = newClient({ dpop: true });

    const response = await client.fetch(ORDERS);

    expect(response.status).toBe(401);
    expect(api.seen).toHaveLength(2);
    expect(tokens.seen).toHaveLength(1);
    expect((await client.getToken()).accessToken).toBe(leakyToken(1));
  });

  it('a 401 use_dpop_nonce without a DPoP-Nonce is returned without a retry', async () => {
    const api = resourceEndpoint(ORDERS, () => resourceNonceError(undefined));
    server.use(tokenEndpoint(() => dpopToken(1)).handler, api.handler);
    expect((await newClient({ dpop: true }).fetch(ORDERS)).status).toBe(401);
    expect(api.seen).toHaveLength(1);
  });

  it('a 401 use_dpop_nonce is not retried when the body cannot be replayed', async () => {
    const api = resourceEndpoint(ORDERS, () => resourceNonceError('n'));
    server.use(tokenEndpoint(() => dpopToken(1)).handler, api.handler);
    const body = new ReadableStream({
      start(controller) {
        controller.enqueue(new TextEncoder().encode('once'));
        controller.close();
      },
    });
    const response = await newClient({ dpop: true }).fetch(ORDERS, { method: 'POST', body, duplex: 'half' } as RequestInit);
    expect(response.status).toBe(401);
    expect(api.seen).toHaveLength(1);
  });

  it('concurrent requests that all get the same nonce challenge each retry once', async () => {
    const api = resourceEndpoint(`${API}/*`, (_n, seen) => {
      const jwt = seen.headers.get('dpop')!;
      const nonce = JSON.parse(Buffer.from(jwt.split('.')[1]!, 'base64url').toString()).nonce;
      return nonce === 'shared' ? HttpResponse.text('ok') : resourceNonceError('shared');
    });
    server.use(tokenEndpoint(() => dpopToken(1)).handler, api.handler);
    const client = newClient({ dpop: true });
    await client.getToken();

    const statuses = await Promise.all([1, 2, 3, 4].map(async (n) => (await client.fetch(`${API}/c/${n}`)).status));

    expect(statuses).toEqual([200, 200, 200, 200]);
    // Each request retries at most once; the first one always needs the nonce.
    expect(api.seen.length).toBeGreaterThanOrEqual(5);
    expect(api.seen.length).toBeLessThanOrEqual(8);
  });

  it('a 401 invalid_token for a DPoP token refreshes the token once and retries with a new proof', async () => {
    const tokens = tokenEndpoint((n) => dpopToken(n));
    const api = resourceEndpoint(ORDERS, (n) =>
      n === 1
        ? new HttpResponse(null, { status: 401, headers: { 'www-authenticate': 'DPoP error="invalid_token", algs="ES256"' } })
        : HttpResponse.text('ok'),
    );
    server.use(tokens.handler, api.handler);
    const client = newClient({ dpop: true });

    const response = await client.fetch(ORDERS);

    expect(response.status).toBe(200);
    expect(tokens.seen).toHaveLength(2);
    expect(api.seen.map((s) => s.authorization)).toEqual([`DPoP ${leakyToken(1)}`, `DPoP ${leakyToken(2)}`]);
    const [first, second] = await Promise.all(api.seen.map((s) => proof(s.headers.get('dpop'))));
    expect(first!.payload.ath).toBe(ath(leakyToken(1)));
    expect(second!.payload.ath).toBe(ath(leakyToken(2)));
  });

  it('a 401 invalid_token after a nonce retry still refreshes once (nonce retry, then token retry)', async () => {
    const tokens = tokenEndpoint((n) => dpopToken(n));
    const api = resourceEndpoint(ORDERS, (n) => {
      if (n === 1) return resourceNonceError('n-1');
      if (n === 2) return new HttpResponse(null, { status: 401, headers: { 'www-authenticate': 'DPoP error="invalid_token"' } });
      return HttpResponse.text('ok');
    });
    server.use(tokens.handler, api.handler);

    const response = await newClient({ dpop: true }).fetch(ORDERS);

    expect(response.status).toBe(200);
    expect(api.seen.map((s) => s.authorization)).toEqual([`DPoP ${leakyToken(1)}`, `DPoP ${leakyToken(1)}`, `DPoP ${leakyToken(2)}`]);
    expect((await proof(api.seen[2]!.headers.get('dpop'))).payload.nonce).toBe('n-1');
  });
});
