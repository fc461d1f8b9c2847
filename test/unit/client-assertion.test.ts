import { constants, createPublicKey, createSecretKey, generateKeyPairSync, type KeyObject, verify } from 'node:crypto';
import { inspect } from 'node:util';
import { decodeProtectedHeader, decodeJwt, jwtVerify } from 'jose';
import { http, HttpResponse } from 'msw';
import { describe, expect, it, vi } from 'vitest';
import type { ClientCredentialsClient, ClientCredentialsOptions } from '../../src/index.js';
import { ISSUER, REVOKE_URL, TOKEN_URL, tokenEndpoint, useMswServer } from '../helpers/msw.js';
import { SECRET, tokenJson, useClients } from '../helpers/core.js';

const server = useMswServer();
const makeClient = useClients();

const rsa = generateKeyPairSync('rsa', { modulusLength: 2048 });
const rsaPss = generateKeyPairSync('rsa-pss', { modulusLength: 2048 });
// (@types/node 20 types saltLength as a string; Node wants a number.)
const rsaPss512 = generateKeyPairSync('rsa-pss', {
  modulusLength: 2048,
  hashAlgorithm: 'sha512',
  mgf1HashAlgorithm: 'sha512',
  saltLength: 64,
} as unknown as { modulusLength: number });
const p256 = generateKeyPairSync('ec', { namedCurve: 'P-256' });
const p384 = generateKeyPairSync('ec', { namedCurve: 'P-384' });
const p521 = generateKeyPairSync('ec', { namedCurve: 'P-521' });
const ed25519 = generateKeyPairSync('ed25519');

const jwkOf = (key: KeyObject) => key.export({ format: 'jwk' }) as Record<string, string>;
const pemOf = (key: KeyObject) => key.export({ type: 'pkcs8', format: 'pem' }) as string;
/** Strings that would give a private key away: the JWK's private members and the PEM body. */
function keyMaterial(key: KeyObject): string[] {
  const pemLines = pemOf(key)
    .split('\n')
    .filter((l) => l && !l.startsWith('-----'));
  if (key.asymmetricKeyType === 'rsa-pss') return pemLines;
  const jwk = jwkOf(key);
  return [...['d', 'p', 'q', 'dp', 'dq', 'qi'].flatMap((m) => (jwk[m] ? [jwk[m]!] : [])), ...pemLines];
}

/** A private_key_jwt client (no secret) with the test defaults. */
function keyClient(privateKey: ClientCredentialsOptions['privateKey'], more: Partial<ClientCredentialsOptions> = {}) {
  return makeClient({ clientSecret: undefined, privateKey, ...more });
}

/** Token requests are answered with a fresh token; returns what the client sent. */
function useTokenEndpoint(url = TOKEN_URL) {
  const endpoint = tokenEndpoint(undefined, url);
  server.use(endpoint.handler);
  return endpoint.seen;
}

const assertionOf = (form: URLSearchParams) => {
  const jwt = form.get('client_assertion');
  expect(jwt).toBeTypeOf('string');
  return { jwt: jwt!, header: decodeProtectedHeader(jwt!), payload: decodeJwt(jwt!) };
};

/** Verifies an RSA-PSS signature with Node (jose cannot take an RSA-PSS KeyObject on Node.js 20). */
function verifyPss(jwt: string, publicKey: KeyObject, hash: 'sha256' | 'sha512'): boolean {
  const [h, p, s] = jwt.split('.');
  return verify(
    hash,
    Buffer.from(`${h}.${p}`),
    { key: publicKey, padding: constants.RSA_PKCS1_PSS_PADDING, saltLength: hash === 'sha256' ? 32 : 64 },
    Buffer.from(s!, 'base64url'),
  );
}

describe('private_key_jwt assertion claims', () => {
  it('iss = sub = clientId, aud = the configured issuer, exp − iat = 60 s, iat = now, a jti; sent as RFC 7523 form fields', async () => {
    vi.useFakeTimers({ toFake: ['Date'] });
    vi.setSystemTime(new Date('2030-01-01T00:00:00.000Z'));
    const seen = useTokenEndpoint();
    await keyClient(jwkOf(p256.privateKey), { issuer: ISSUER }).getToken();

    const { form, headers } = seen[0]!;
    expect(headers.has('authorization')).toBe(false);
    expect(form.get('client_id')).toBe('svc-a');
    expect(form.get('client_secret')).toBeNull();
    expect(form.get('client_assertion_type')).toBe('urn:ietf:params:oauth:client-assertion-type:jwt-bearer');
    const { jwt, header, payload } = assertionOf(form);
    expect(header).toEqual({ alg: 'ES256', typ: 'JWT' });
    const iat = Date.UTC(2030, 0, 1) / 1000;
    expect(payload).toEqual({ iss: 'svc-a', sub: 'svc-a', aud: ISSUER, iat, exp: iat + 60, jti: expect.stringMatching(/^[0-9a-f-]{36}$/) });
    await expect(jwtVerify(jwt, p256.publicKey, { currentDate: new Date(iat * 1000) })).resolves.toBeTruthy();
  });

  it("aud is the token endpoint with clientAssertion.audience 'token_endpoint', and when no issuer is configured", async () => {
    const seen = useTokenEndpoint();
    await keyClient(p256.privateKey, { issuer: ISSUER, clientAssertion: { audience: 'token_endpoint' } }).getToken();
    await keyClient(p256.privateKey).getToken();

    expect(seen.map((s) => assertionOf(s.form).payload.aud)).toEqual([TOKEN_URL, TOKEN_URL]);
  });

  it("aud is the discovered metadata's issuer when the endpoints come from discovery", async () => {
    server.use(
      http.get(`${ISSUER}/.well-known/oauth-authorization-server`, () =>
        HttpResponse.json({ issuer: `${ISSUER}/`, token_endpoint: TOKEN_URL }),
      ),
    );
    const seen = useTokenEndpoint();
    // A URL object's href ends with '/': discovery accepts the metadata's issuer with or without it.
    await keyClient(p256.privateKey, { issuer: new URL(ISSUER), tokenEndpoint: undefined }).getToken();

    expect(assertionOf(seen[0]!.form).payload.aud).toBe(`${ISSUER}/`);
  });

  it('clientAssertion.lifetime sets exp − iat', async () => {
    const seen = useTokenEndpoint();
    await keyClient(p256.privateKey, { clientAssertion: { lifetime: 300_000 } }).getToken();
    const { payload } = assertionOf(seen[0]!.form);
    expect(payload.exp! - payload.iat!).toBe(300);
    expect(() => keyClient(p256.privateKey, { clientAssertion: { lifetime: 0 } })).toThrow(/clientAssertion\.lifetime/);
  });

  it('a new assertion (new jti) for every request and for every retry of one request', async () => {
    let n = 0;
    const seen: URLSearchParams[] = [];
    server.use(
      http.post(TOKEN_URL, async ({ request }) => {
        seen.push(new URLSearchParams(await request.text()));
        return ++n === 1 ? HttpResponse.json({ error: 'temporarily_unavailable' }, { status: 503 }) : tokenJson(`tok-${n}`);
      }),
    );
    const client = keyClient(p256.privateKey, { retry: { retries: 1, minDelay: 0, maxDelay: 0 } });
    await client.getToken();
    await client.getToken({ forceRefresh: true });

    expect(seen).toHaveLength(3);
    const jtis = seen.map((form) => assertionOf(form).payload.jti);
    expect(new Set(jtis).size).toBe(3);
  });

  it('revocation sends a fresh assertion with the same aud as the token endpoint (issuer, or token endpoint URL)', async () => {
    const revocations: URLSearchParams[] = [];
    server.use(
      http.post(REVOKE_URL, async ({ request }) => {
        revocations.push(new URLSearchParams(await request.text()));
        return new HttpResponse(null, { status: 200 });
      }),
    );
    const seen = useTokenEndpoint();
    for (const audience of ['issuer', 'token_endpoint'] as const) {
      const client = keyClient(p256.privateKey, { issuer: ISSUER, revocationEndpoint: REVOKE_URL, clientAssertion: { audience } });
      await client.getToken();
      await client.revoke();
    }

    expect(revocations.map((f) => assertionOf(f).payload.aud)).toEqual([ISSUER, TOKEN_URL]);
    expect(revocations.map((f) => f.get('client_assertion_type'))).toEqual(
      Array(2).fill('urn:ietf:params:oauth:client-assertion-type:jwt-bearer'),
    );
    expect(assertionOf(revocations[0]!).payload.jti).not.toBe(assertionOf(seen[0]!.form).payload.jti);
  });
});

describe('private_key_jwt keys and algorithms', () => {
  it.each([
    ['RSA', rsa, 'RS256'],
    ['P-256', p256, 'ES256'],
    ['P-384', p384, 'ES384'],
    ['P-521', p521, 'ES512'],
    ['Ed25519', ed25519, 'EdDSA'],
  ] as const)('infers the algorithm of a %s key (%s), and the assertion verifies with the public key', async (_name, pair, alg) => {
    const seen = useTokenEndpoint();
    await keyClient(pair.privateKey).getToken();
    const { jwt, header } = assertionOf(seen[0]!.form);
    expect(header.alg).toBe(alg);
    await expect(jwtVerify(jwt, pair.publicKey, { algorithms: [alg] })).resolves.toBeTruthy();
  });

  it.each([
    ['an unrestricted RSA-PSS key', rsaPss, 'PS256', 'sha256'],
    ['an RSA-PSS key restricted to SHA-512', rsaPss512, 'PS512', 'sha512'],
  ] as const)('infers the algorithm of %s (%s), and the signature verifies', async (_name, pair, alg, hash) => {
    const seen = useTokenEndpoint();
    await keyClient(pair.privateKey).getToken();
    await keyClient(pemOf(pair.privateKey)).getToken();
    for (const { form } of seen) {
      const { jwt, header } = assertionOf(form);
      expect(header.alg).toBe(alg);
      expect(verifyPss(jwt, pair.publicKey, hash)).toBe(true);
    }
  });

  it('clientAssertion.alg overrides the inferred one (PS256 on an RSA key); a JWK `alg` is used when no override', async () => {
    const seen = useTokenEndpoint();
    await keyClient(rsa.privateKey, { clientAssertion: { alg: 'PS256' } }).getToken();
    await keyClient({ ...jwkOf(rsa.privateKey), alg: 'RS512' }).getToken();
    await keyClient({ ...jwkOf(rsa.privateKey), alg: 'RS512' }, { clientAssertion: { alg: 'PS384' } }).getToken();

    const algs = seen.map((s) => assertionOf(s.form).header.alg);
    expect(algs).toEqual(['PS256', 'RS512', 'PS384']);
    await expect(jwtVerify(assertionOf(seen[0]!.form).jwt, rsa.publicKey, { algorithms: ['PS256'] })).resolves.toBeTruthy();
  });

  it('kid comes from the JWK, or from clientAssertion.kid (which wins); none without either', async () => {
    const seen = useTokenEndpoint();
    await keyClient({ ...jwkOf(p256.privateKey), kid: 'from-jwk' }).getToken();
    await keyClient({ ...jwkOf(p256.privateKey), kid: 'from-jwk' }, { clientAssertion: { kid: 'from-option' } }).getToken();
    await keyClient(pemOf(p256.privateKey), { clientAssertion: { kid: 'pem-kid' } }).getToken();
    await keyClient(p256.privateKey).getToken();

    expect(seen.map((s) => assertionOf(s.form).header.kid)).toEqual(['from-jwk', 'from-option', 'pem-kid', undefined]);
  });

  it('PEM, JWK and KeyObject forms of one key give the same, verifiable assertion', async () => {
    const seen = useTokenEndpoint();
    for (const input of [pemOf(ed25519.privateKey), jwkOf(ed25519.privateKey), ed25519.privateKey]) await keyClient(input).getToken();
    for (const { form } of seen) await expect(jwtVerify(assertionOf(form).jwt, ed25519.publicKey)).resolves.toBeTruthy();
    expect(seen).toHaveLength(3);
  });

  it.each([
    ['ES256 on an RSA key', rsa.privateKey, 'ES256'],
    ['RS256 on a P-256 key', p256.privateKey, 'RS256'],
    ['ES384 on a P-256 key', p256.privateKey, 'ES384'],
    ['RS256 on an RSA-PSS key', rsaPss.privateKey, 'RS256'],
    ['PS256 on an RSA-PSS key for SHA-512', rsaPss512.privateKey, 'PS256'],
    ['HS256 on an Ed25519 key', ed25519.privateKey, 'HS256'],
    ['an unknown algorithm', rsa.privateKey, 'none'],
  ] as const)('an algorithm that does not fit the key is a TypeError naming the option, not the key: %s', (_name, key, alg) => {
    let error: unknown;
    try {
      keyClient(key, { clientAssertion: { alg } });
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(TypeError);
    const message = (error as TypeError).message;
    expect(message).toContain('`privateKey`');
    expect(message).toContain(alg);
    for (const secret of keyMaterial(key)) expect(message).not.toContain(secret);
  });

  it.each<[string, () => unknown]>([
    ['a public key (KeyObject)', () => p256.publicKey],
    ['a public key (PEM)', () => p256.publicKey.export({ type: 'spki', format: 'pem' }) as string],
    ['a public JWK (no d)', () => jwkOf(p256.publicKey)],
    ['a secret KeyObject', () => createSecretKey(Buffer.from('0123456789abcdef0123456789abcdef'))],
    ['garbage text', () => 'not a key at all'],
    ['a truncated PEM', () => pemOf(p256.privateKey).slice(0, 80)],
    ['an empty object', () => ({})],
    ['a number', () => 42 as never],
    ['an X25519 key (cannot sign)', () => generateKeyPairSync('x25519').privateKey],
    ['a secp256k1 key', () => generateKeyPairSync('ec', { namedCurve: 'secp256k1' }).privateKey],
    ['an Ed448 key', () => generateKeyPairSync('ed448').privateKey],
  ])('%s is refused with a TypeError naming privateKey', (_name, input) => {
    let error: unknown;
    try {
      keyClient(input() as never);
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(TypeError);
    expect((error as TypeError).message).toMatch(/^m2m-token: option `privateKey` /);
  });

  it('an error about a truncated PEM or bad JWK does not echo any of it', () => {
    const pem = pemOf(p256.privateKey);
    const brokenJwk: Record<string, string> = { ...jwkOf(p256.privateKey), x: 'AAAA' };
    for (const input of [pem.slice(0, 120), brokenJwk]) {
      const error = (() => {
        try {
          keyClient(input);
        } catch (e) {
          return e as Error;
        }
        throw new Error('expected a TypeError');
      })();
      expect(error).toBeInstanceOf(TypeError);
      const text = `${error.message} ${inspect(error)}`;
      for (const secret of keyMaterial(p256.privateKey)) expect(text).not.toContain(secret.slice(0, 24));
      expect(text).not.toContain(brokenJwk.d!);
    }
  });

  it('private_key_jwt without a privateKey is a TypeError naming privateKey', () => {
    expect(() => makeClient({ clientSecret: undefined, clientAuth: 'private_key_jwt' })).toThrow(
      /`privateKey` must be set for clientAuth private_key_jwt/,
    );
  });

  it('is the default method when a private key and no secret is given', async () => {
    const seen = useTokenEndpoint();
    const client = keyClient(p256.privateKey);
    expect(client.toJSON().clientAuth).toBe('private_key_jwt');
    await client.getToken();
    expect(seen[0]!.form.has('client_assertion')).toBe(true);
  });

  it('inspect and JSON of the client never show the key (any form), and neither do token errors', async () => {
    server.use(http.post(TOKEN_URL, () => HttpResponse.json({ error: 'invalid_client', error_description: 'no' }, { status: 401 })));
    for (const [input, key] of [
      [jwkOf(rsa.privateKey), rsa.privateKey],
      [pemOf(p256.privateKey), p256.privateKey],
      [ed25519.privateKey, ed25519.privateKey],
    ] as const) {
      const client = keyClient(input);
      const error = await client.getToken().catch((e: unknown) => e);
      const text = `${inspect(client, { depth: 20, showHidden: true })} ${JSON.stringify(client)} ${String(error)} ${inspect(error, { depth: 10 })}`;
      for (const secret of keyMaterial(key)) expect(text).not.toContain(secret);
    }
  });
});

describe('client_secret_jwt', () => {
  it('sends an HS256 assertion keyed by the client secret (verifiable with it), never the secret', async () => {
    const seen = useTokenEndpoint();
    await makeClient({ clientAuth: 'client_secret_jwt', issuer: ISSUER }).getToken();

    const { form, headers } = seen[0]!;
    expect(headers.has('authorization')).toBe(false);
    expect(form.get('client_secret')).toBeNull();
    expect(form.toString()).not.toContain(SECRET);
    const { jwt } = assertionOf(form);
    const { payload, protectedHeader } = await jwtVerify(jwt, new TextEncoder().encode(SECRET), { algorithms: ['HS256'] });
    expect(protectedHeader).toEqual({ alg: 'HS256', typ: 'JWT' });
    expect(payload).toMatchObject({ iss: 'svc-a', sub: 'svc-a', aud: ISSUER });
    expect(payload.exp! - payload.iat!).toBe(60);
  });

  it('stays HS256 with the secret when a private key is configured too', async () => {
    const seen = useTokenEndpoint();
    await makeClient({ clientAuth: 'client_secret_jwt', privateKey: p256.privateKey }).getToken();
    const { jwt } = assertionOf(seen[0]!.form);
    await expect(jwtVerify(jwt, new TextEncoder().encode(SECRET), { algorithms: ['HS256'] })).resolves.toBeTruthy();
  });

  it('without a secret is a TypeError naming clientSecret', () => {
    expect(() => makeClient({ clientSecret: undefined, clientAuth: 'client_secret_jwt' })).toThrow(
      /`clientSecret` must be set for clientAuth client_secret_jwt/,
    );
  });

  it('the secret shows in no inspect, JSON or error', async () => {
    server.use(http.post(TOKEN_URL, () => HttpResponse.json({ error: 'invalid_client' }, { status: 401 })));
    const client = makeClient({ clientAuth: 'client_secret_jwt' });
    const error = await client.getToken().catch((e: unknown) => e);
    const text = `${inspect(client, { depth: 20, showHidden: true })} ${JSON.stringify(client)} ${String(error)} ${inspect(error, { depth: 10 })}`;
    expect(text).not.toContain(SECRET);
  });
});

describe('without jose installed', () => {
  it('a JWT method fails with a CONFIG TokenError naming the package to install', async () => {
    vi.resetModules();
    vi.doMock('jose', () => {
      throw new Error("Cannot find package 'jose'");
    });
    try {
      const { ClientCredentialsClient: Fresh } = (await import('../../src/index.js')) as {
        ClientCredentialsClient: typeof ClientCredentialsClient;
      };
      const seen = useTokenEndpoint();
      const client = new Fresh({ tokenEndpoint: TOKEN_URL, clientId: 'svc-a', privateKey: p256.privateKey, retry: false });
      const error = await client.getToken().catch((e: unknown) => e);
      await client.close();
      expect(error).toMatchObject({ name: 'TokenError', code: 'CONFIG' });
      expect((error as Error).message).toMatch(/npm install jose/);
      expect(seen).toHaveLength(0);
    } finally {
      vi.doUnmock('jose');
      vi.resetModules();
    }
  });
});

// Keep the public-key helper honest: createPublicKey of a private key is what a server registers.
it('sanity: the test keys are what they claim to be', () => {
  expect(createPublicKey(rsaPss.privateKey).asymmetricKeyType).toBe('rsa-pss');
  expect(rsaPss512.privateKey.asymmetricKeyDetails?.hashAlgorithm).toBe('sha512');
});
