import { generateKeyPairSync } from 'node:crypto';
import { inspect } from 'node:util';
import { jwtVerify } from 'jose';
import { describe, expect, it } from 'vitest';
import { OAuthError } from '../../src/index.js';
import { jwtHeader, jwtPayload } from '../helpers/bound-resource.js';
import { useClients } from '../helpers/core.js';
import { recordingFetch, useAuthorizationServer } from './support.js';

const CLIENT_ID = 'csjwt-service';
/** Long enough for HS256 (oidc-provider wants at least the hash size); public: local use only. */
const CLIENT_SECRET = 'csjwt-secret-0123456789-abcdefghijklmnopqrstuvwxyz-MUST-NOT-LEAK';

const server = useAuthorizationServer({
  clients: [{ client_id: CLIENT_ID, client_secret: CLIENT_SECRET, token_endpoint_auth_method: 'client_secret_jwt' }],
});
const newClient = useClients({});

const secretKey = new TextEncoder().encode(CLIENT_SECRET);

describe('client_secret_jwt against oidc-provider', () => {
  it('sends an HS256 assertion keyed by the secret (never the secret itself) and gets a token', async () => {
    const as = server();
    const { fetch, sent } = recordingFetch();
    const c = newClient({ issuer: as.issuer, clientId: CLIENT_ID, clientSecret: CLIENT_SECRET, clientAuth: 'client_secret_jwt', fetch });

    const token = await c.getToken();

    expect((await as.introspect(token.accessToken)).client_id).toBe(CLIENT_ID);
    const request = sent.find((r) => r.method === 'POST')!;
    expect(request.headers.has('authorization')).toBe(false);
    expect(request.form.get('client_secret')).toBeNull();
    expect(request.form.get('client_id')).toBe(CLIENT_ID);
    expect(request.form.get('client_assertion_type')).toBe('urn:ietf:params:oauth:client-assertion-type:jwt-bearer');
    const assertion = request.form.get('client_assertion')!;
    expect(request.form.toString()).not.toContain(encodeURIComponent(CLIENT_SECRET).slice(0, 20));
    const { payload, protectedHeader } = await jwtVerify(assertion, secretKey, {
      algorithms: ['HS256'],
      issuer: CLIENT_ID,
      subject: CLIENT_ID,
      audience: as.issuer,
    });
    expect(protectedHeader).toEqual({ alg: 'HS256', typ: 'JWT' });
    expect(payload.exp! - payload.iat!).toBe(60);
    expect(payload.jti).toBeTypeOf('string');
  });

  it('HS256 even when a private key is configured as well (the secret is the key of client_secret_jwt)', async () => {
    const as = server();
    const { fetch, sent } = recordingFetch();
    const { privateKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
    const c = newClient({
      tokenEndpoint: as.tokenEndpoint,
      clientId: CLIENT_ID,
      clientSecret: CLIENT_SECRET,
      privateKey,
      clientAuth: 'client_secret_jwt',
      fetch,
    });

    const token = await c.getToken();

    expect((await as.introspect(token.accessToken)).active).toBe(true);
    expect(jwtHeader(sent[0]!.form.get('client_assertion')!).alg).toBe('HS256');
  });

  it('a new assertion per request, with the configured lifetime and the token endpoint as aud when asked', async () => {
    const as = server();
    const { fetch, sent } = recordingFetch();
    const c = newClient({
      issuer: as.issuer,
      clientId: CLIENT_ID,
      clientSecret: CLIENT_SECRET,
      clientAuth: 'client_secret_jwt',
      clientAssertion: { audience: 'token_endpoint', lifetime: 30_000 },
      fetch,
    });

    await c.getToken();
    await c.getToken({ forceRefresh: true });

    const payloads = sent.filter((r) => r.method === 'POST').map((r) => jwtPayload(r.form.get('client_assertion')!));
    expect(payloads).toHaveLength(2);
    expect(payloads.map((p) => p.aud)).toEqual([as.tokenEndpoint, as.tokenEndpoint]);
    expect(payloads.map((p) => (p.exp as number) - (p.iat as number))).toEqual([30, 30]);
    expect(payloads[0]!.jti).not.toBe(payloads[1]!.jti);
  });

  it('revokes with a client_secret_jwt assertion', async () => {
    const as = server();
    const c = newClient({ issuer: as.issuer, clientId: CLIENT_ID, clientSecret: CLIENT_SECRET, clientAuth: 'client_secret_jwt' });
    const token = await c.getToken();

    await c.revoke();

    expect((await as.introspect(token.accessToken)).active).toBe(false);
  });

  it('a wrong secret fails with invalid_client, and neither secret appears in the error, inspect or JSON', async () => {
    const as = server();
    const wrong = 'csjwt-wrong-secret-0123456789-abcdefghijklmnopqrstuvwxyz';
    const c = newClient({
      tokenEndpoint: as.tokenEndpoint,
      clientId: CLIENT_ID,
      clientSecret: wrong,
      clientAuth: 'client_secret_jwt',
      retry: false,
    });

    const error = await c.getToken().catch((e: unknown) => e);

    expect(error).toBeInstanceOf(OAuthError);
    expect((error as OAuthError).error).toBe('invalid_client');
    const text = `${String(error)} ${inspect(error, { depth: 5 })} ${JSON.stringify(error)} ${inspect(c, { depth: 10, showHidden: true })} ${JSON.stringify(c)}`;
    expect(text).not.toContain(wrong);
    expect(text).not.toContain(CLIENT_SECRET);
  });
});
