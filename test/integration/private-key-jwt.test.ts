import { createPublicKey, generateKeyPairSync, type KeyObject } from 'node:crypto';
import { inspect } from 'node:util';
import { describe, expect, it } from 'vitest';
import type { ClientMetadata } from '../../examples/support/embedded-server.js';
import { OAuthError } from '../../src/index.js';
import { jwtHeader, jwtPayload } from '../helpers/bound-resource.js';
import { useClients } from '../helpers/core.js';
import { countEvents, recordingFetch, useAuthorizationServer } from './support.js';

/** A key pair and the client registered with its public key. */
interface RegisteredKey {
  readonly clientId: string;
  readonly privateKey: KeyObject;
  readonly kid: string;
  readonly pem: string;
  readonly jwk: Record<string, unknown>;
}

function registeredKey(clientId: string, privateKey: KeyObject, kid: string): RegisteredKey {
  // JWK export of an RSA-PSS key is not possible (Node.js): the same RSA key is exported as plain RSA.
  const exportable = privateKey.asymmetricKeyType === 'rsa-pss' ? undefined : privateKey;
  return {
    clientId,
    privateKey,
    kid,
    pem: privateKey.export({ type: 'pkcs8', format: 'pem' }) as string,
    jwk: exportable === undefined ? {} : { ...(exportable.export({ format: 'jwk' }) as Record<string, unknown>), kid },
  };
}

const rsa = registeredKey('pkjwt-rsa', generateKeyPairSync('rsa', { modulusLength: 2048 }).privateKey, 'rsa-1');
const rsaPss = registeredKey('pkjwt-rsa-pss', generateKeyPairSync('rsa-pss', { modulusLength: 2048 }).privateKey, 'rsa-pss-1');
const ec = registeredKey('pkjwt-ec', generateKeyPairSync('ec', { namedCurve: 'P-256' }).privateKey, 'ec-1');
const ed = registeredKey('pkjwt-ed25519', generateKeyPairSync('ed25519').privateKey, 'ed-1');
/** Registered for PS256 only: oidc-provider refuses any other alg from it. */
const rsaPs256Only = registeredKey('pkjwt-rsa-ps256', generateKeyPairSync('rsa', { modulusLength: 2048 }).privateKey, 'rsa-ps-1');
/** Not registered anywhere. */
const stranger = generateKeyPairSync('ec', { namedCurve: 'P-256' }).privateKey;

/** The public JWK a client registers (for RSA-PSS: the same RSA key, as RSA). */
function publicJwk(key: RegisteredKey): Record<string, unknown> {
  const publicKey = createPublicKey(key.privateKey);
  const source = publicKey.asymmetricKeyType === 'rsa-pss' ? rsaPublicFromPss(key.privateKey) : publicKey;
  return { ...(source.export({ format: 'jwk' }) as Record<string, unknown>), kid: key.kid, use: 'sig' };
}

/**
 * An RSA-PSS key's RSA public key (test-side, independent of src): PKCS #8 is SEQUENCE { INTEGER version,
 * SEQUENCE algorithm, OCTET STRING privateKey }, and those octets are the PKCS #1 RSAPrivateKey.
 */
function rsaPublicFromPss(privateKey: KeyObject): KeyObject {
  const der = privateKey.export({ type: 'pkcs8', format: 'der' });
  let at = 0;
  const tlv = () => {
    const tag = der[at]!;
    let length = der[at + 1]!;
    at += 2;
    if (length > 0x80) {
      const n = length - 0x80;
      length = der.readUIntBE(at, n);
      at += n;
    }
    return { tag, length };
  };
  expect(tlv().tag).toBe(0x30);
  const version = tlv();
  at += version.length;
  const algorithm = tlv();
  at += algorithm.length;
  const octets = tlv();
  expect(octets.tag).toBe(0x04);
  return createPublicKey({ key: der.subarray(at, at + octets.length), format: 'der', type: 'pkcs1' });
}

const client = (key: RegisteredKey, more: Partial<ClientMetadata> = {}): ClientMetadata => ({
  client_id: key.clientId,
  token_endpoint_auth_method: 'private_key_jwt',
  jwks: { keys: [publicJwk(key) as never] },
  ...more,
});

const server = useAuthorizationServer({
  clients: [client(rsa), client(rsaPss), client(ec), client(ed), client(rsaPs256Only, { token_endpoint_auth_signing_alg: 'PS256' })],
});
const newClient = useClients({});

/** The client assertion of a recorded token request, decoded (unverified: the server verified it). */
function assertionOf(form: URLSearchParams) {
  const assertion = form.get('client_assertion');
  expect(assertion).toBeTypeOf('string');
  return { header: jwtHeader(assertion!), payload: jwtPayload(assertion!), raw: assertion! };
}

describe('private_key_jwt against oidc-provider', () => {
  it.each([
    ['RSA', rsa, 'RS256'],
    ['RSA-PSS', rsaPss, 'PS256'],
    ['P-256', ec, 'ES256'],
    ['Ed25519', ed, 'EdDSA'],
  ] as const)('a %s key (JWK input) infers %s, and the server issues a token for the client', async (_name, key, alg) => {
    const as = server();
    const { fetch, sent } = recordingFetch();
    const input = key === rsaPss ? key.pem : key.jwk; // RSA-PSS keys have no JWK form: PEM
    const c = newClient({
      issuer: as.issuer,
      clientId: key.clientId,
      privateKey: input,
      clientAssertion: key === rsaPss ? { kid: key.kid } : {},
      fetch,
    });

    const token = await c.getToken();

    expect((await as.introspect(token.accessToken)).client_id).toBe(key.clientId);
    const tokenRequest = sent.find((r) => r.method === 'POST')!;
    expect(tokenRequest.url).toBe(as.tokenEndpoint);
    expect(tokenRequest.headers.has('authorization')).toBe(false);
    expect(tokenRequest.form.get('client_id')).toBe(key.clientId);
    expect(tokenRequest.form.get('client_secret')).toBeNull();
    expect(tokenRequest.form.get('client_assertion_type')).toBe('urn:ietf:params:oauth:client-assertion-type:jwt-bearer');
    const { header, payload } = assertionOf(tokenRequest.form);
    expect(header).toMatchObject({ alg, kid: key.kid, typ: 'JWT' });
    expect(payload).toMatchObject({ iss: key.clientId, sub: key.clientId, aud: as.issuer });
    expect((payload.exp as number) - (payload.iat as number)).toBe(60);
    expect(Math.abs((payload.iat as number) - Date.now() / 1000)).toBeLessThan(30);
    expect(payload.jti).toMatch(/^[\w-]{16,}$/);
  });

  it.each([
    ['a PEM string', () => rsa.pem],
    ['a KeyObject', () => rsa.privateKey],
  ] as const)('accepts the key as %s (kid from clientAssertion.kid)', async (_name, input) => {
    const as = server();
    const { fetch, sent } = recordingFetch();
    const c = newClient({ issuer: as.issuer, clientId: rsa.clientId, privateKey: input(), clientAssertion: { kid: rsa.kid }, fetch });

    const token = await c.getToken();

    expect((await as.introspect(token.accessToken)).client_id).toBe(rsa.clientId);
    expect(assertionOf(sent.find((r) => r.method === 'POST')!.form).header).toMatchObject({ alg: 'RS256', kid: rsa.kid });
  });

  it('PS256 overrides RS256 on an RSA key; a client registered for PS256 gets a token, and RS256 is refused', async () => {
    const as = server();
    const { fetch, sent } = recordingFetch();
    const ps = newClient({
      tokenEndpoint: as.tokenEndpoint,
      clientId: rsaPs256Only.clientId,
      privateKey: rsaPs256Only.jwk,
      clientAssertion: { alg: 'PS256' },
      fetch,
    });
    const token = await ps.getToken();
    expect((await as.introspect(token.accessToken)).client_id).toBe(rsaPs256Only.clientId);
    expect(assertionOf(sent[0]!.form).header.alg).toBe('PS256');

    const rs = newClient({ tokenEndpoint: as.tokenEndpoint, clientId: rsaPs256Only.clientId, privateKey: rsaPs256Only.jwk, retry: false });
    const error = await rs.getToken().catch((e: unknown) => e);
    expect(error).toBeInstanceOf(OAuthError);
    expect((error as OAuthError).error).toBe('invalid_client');
  });

  it("clientAssertion.audience 'token_endpoint' sends the token endpoint URL as aud, which the server accepts", async () => {
    const as = server();
    const { fetch, sent } = recordingFetch();
    const c = newClient({
      issuer: as.issuer,
      clientId: ec.clientId,
      privateKey: ec.jwk,
      clientAssertion: { audience: 'token_endpoint' },
      fetch,
    });

    const token = await c.getToken();

    expect((await as.introspect(token.accessToken)).active).toBe(true);
    expect(assertionOf(sent.find((r) => r.method === 'POST')!.form).payload.aud).toBe(as.tokenEndpoint);
  });

  it('without an issuer the aud is the token endpoint URL, and the server accepts it', async () => {
    const as = server();
    const { fetch, sent } = recordingFetch();
    const c = newClient({ tokenEndpoint: as.tokenEndpoint, clientId: ec.clientId, privateKey: ec.jwk, fetch });

    await c.getToken();

    expect(sent).toHaveLength(1);
    expect(assertionOf(sent[0]!.form).payload.aud).toBe(as.tokenEndpoint);
  });

  it("an issuer given as a URL object (href ends with '/') still sends the metadata's issuer as aud", async () => {
    const as = server();
    const { fetch, sent } = recordingFetch();
    const c = newClient({ issuer: new URL(as.issuer), clientId: ec.clientId, privateKey: ec.jwk, fetch });

    await c.getToken();

    expect(assertionOf(sent.find((r) => r.method === 'POST')!.form).payload.aud).toBe(as.issuer);
  });

  it('every token request signs a new assertion (unique jti; the server refuses a replayed one)', async () => {
    const as = server();
    const { fetch, sent } = recordingFetch();
    const c = newClient({ tokenEndpoint: as.tokenEndpoint, clientId: ed.clientId, privateKey: ed.jwk, fetch });

    await c.getToken();
    await c.getToken({ forceRefresh: true });
    await c.getToken({ scope: 'orders:read' });

    const jtis = sent.map((r) => assertionOf(r.form).payload.jti);
    expect(jtis).toHaveLength(3);
    expect(new Set(jtis).size).toBe(3);

    // The server's replay detection is real: the same assertion a second time is refused.
    const replay = await fetch(as.tokenEndpoint, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({
        grant_type: 'client_credentials',
        client_id: ed.clientId,
        client_assertion_type: 'urn:ietf:params:oauth:client-assertion-type:jwt-bearer',
        client_assertion: assertionOf(sent[0]!.form).raw,
      }).toString(),
    });
    expect(replay.status).toBe(401);
    expect(((await replay.json()) as { error: string }).error).toBe('invalid_client');
  });

  it('a key the client is not registered with fails with invalid_client, not retried, and no key material in the error', async () => {
    const as = server();
    const failures = countEvents(as, 'grant.error');
    const c = newClient({ tokenEndpoint: as.tokenEndpoint, clientId: ec.clientId, privateKey: stranger });

    const error = await c.getToken().catch((e: unknown) => e);
    failures.off();

    expect(error).toBeInstanceOf(OAuthError);
    expect((error as OAuthError).error).toBe('invalid_client');
    expect(failures.count()).toBe(1);
    const strangerJwk = stranger.export({ format: 'jwk' }) as { d: string };
    const text = `${String(error)} ${inspect(error, { depth: 5 })} ${JSON.stringify(error)}`;
    expect(text).not.toContain(strangerJwk.d);
    expect(text).not.toContain((stranger.export({ type: 'pkcs8', format: 'pem' }) as string).split('\n')[1]);
  });

  it('revokes its tokens with private_key_jwt at the revocation endpoint (a fresh assertion there too)', async () => {
    const as = server();
    const { fetch, sent } = recordingFetch();
    const c = newClient({ issuer: as.issuer, clientId: rsa.clientId, privateKey: rsa.jwk, fetch });
    const token = await c.getToken();
    expect((await as.introspect(token.accessToken)).active).toBe(true);

    await c.revoke();

    expect((await as.introspect(token.accessToken)).active).toBe(false);
    const posts = sent.filter((r) => r.method === 'POST');
    expect(posts.map((r) => r.url)).toEqual([as.tokenEndpoint, as.revocationEndpoint]);
    const [first, second] = posts.map((r) => assertionOf(r.form).payload);
    expect(second!.aud).toBe(as.issuer);
    expect(second!.jti).not.toBe(first!.jti);
  });

  it("revocation with clientAssertion.audience 'token_endpoint' sends the token endpoint URL as aud there too", async () => {
    const as = server();
    const { fetch, sent } = recordingFetch();
    const c = newClient({
      issuer: as.issuer,
      clientId: ec.clientId,
      privateKey: ec.jwk,
      clientAssertion: { audience: 'token_endpoint' },
      fetch,
    });
    const token = await c.getToken();

    await c.revoke();

    expect((await as.introspect(token.accessToken)).active).toBe(false);
    const revocation = sent.find((r) => r.url === as.revocationEndpoint)!;
    expect(assertionOf(revocation.form).payload.aud).toBe(as.tokenEndpoint);
  });

  it('inspect, JSON and the token never show the private key', async () => {
    const as = server();
    const c = newClient({ issuer: as.issuer, clientId: rsa.clientId, privateKey: rsa.jwk });
    const token = await c.getToken();

    const shown = `${inspect(c, { depth: 10, showHidden: true })} ${JSON.stringify(c)} ${inspect(token, { showHidden: false })} ${JSON.stringify(token)}`;
    expect(shown).not.toContain(String(rsa.jwk.d));
    expect(shown).not.toContain(String(rsa.jwk.p));
    expect(shown).not.toContain(rsa.pem.split('\n')[1]!);
    expect(shown).not.toContain(token.accessToken);
  });
});
