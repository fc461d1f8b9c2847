/**
 * Mutual TLS (RFC 8705) end to end: certificates made at test time (test/helpers/certs.ts), oidc-provider
 * with `features.mTLS` behind an https listener on 127.0.0.1 published as `mtls_endpoint_aliases`, and an
 * https resource server that compares the client certificate with the token's `cnf['x5t#S256']`.
 */
import { inspect } from 'node:util';
import { createRemoteJWKSet, jwtVerify } from 'jose';
import { Agent, fetch as undiciFetch } from 'undici';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { API_RESOURCE, type AuthorizationServer, demoClients, startAuthorizationServer } from '../../examples/support/embedded-server.js';
import { OAuthError, TokenError } from '../../src/index.js';
import { type BoundClaims, type BoundResourceServer, startMtlsResourceServer } from '../helpers/bound-resource.js';
import { createPki, pemBody, type TestCertificate, type TestPki } from '../helpers/certs.js';
import { useClients } from '../helpers/core.js';

const CA_CLIENT = 'mtls-ca-client';
const SELF_SIGNED_CLIENT = 'mtls-self-signed-client';
/** Authenticates with a secret, but its tokens are bound to the certificate on the connection. */
const BOUND_SECRET_CLIENT = { clientId: 'mtls-bound-basic', clientSecret: 'mtls-bound-basic-demo-secret' };

let pki: TestPki;
let as: AuthorizationServer;

beforeAll(async () => {
  pki = await createPki();
  as = await startAuthorizationServer({
    mtls: { cert: pki.server.cert, key: pki.server.key, ca: pki.ca.cert },
    clients: [
      {
        client_id: CA_CLIENT,
        token_endpoint_auth_method: 'tls_client_auth',
        tls_client_auth_subject_dn: pki.client.subject,
        tls_client_certificate_bound_access_tokens: true,
      },
      {
        client_id: SELF_SIGNED_CLIENT,
        token_endpoint_auth_method: 'self_signed_tls_client_auth',
        jwks: { keys: [pki.selfSigned.jwk as never] },
        tls_client_certificate_bound_access_tokens: true,
      },
      {
        client_id: BOUND_SECRET_CLIENT.clientId,
        client_secret: BOUND_SECRET_CLIENT.clientSecret,
        token_endpoint_auth_method: 'client_secret_basic',
        tls_client_certificate_bound_access_tokens: true,
      },
    ],
  });
});
afterAll(async () => {
  await as?.close();
});

const newClient = useClients({});
const servers: BoundResourceServer[] = [];
const agents: Agent[] = [];
afterEach(async () => {
  await Promise.all([...servers.splice(0).map((s) => s.close()), ...agents.splice(0).map((a) => a.close())]);
});

/** The `tls` option for a certificate: it and its key, and the test CA to trust the servers with. */
const tlsOf = (certificate: TestCertificate) => ({ cert: certificate.cert, key: certificate.key, ca: pki.ca.cert });

/** Claims of an opaque token by introspection; `undefined` when inactive. */
const introspected = async (token: string): Promise<BoundClaims | undefined> => {
  const result = await as.introspect(token);
  return result.active ? (result as BoundClaims) : undefined;
};

async function resourceServer(claims = introspected) {
  const rs = await startMtlsResourceServer({ cert: pki.server.cert, key: pki.server.key, claims });
  servers.push(rs);
  return rs;
}

/** A plain https request to the resource server, with a certificate or none. */
async function call(url: string, token: string, certificate?: TestCertificate): Promise<number> {
  const agent = new Agent({ connect: certificate ? tlsOf(certificate) : { ca: pki.ca.cert } });
  agents.push(agent);
  const response = await undiciFetch(url, { headers: { authorization: `Bearer ${token}` }, dispatcher: agent });
  await response.arrayBuffer();
  return response.status;
}

describe('mutual TLS against oidc-provider', () => {
  it('the discovery document lists the mutual-TLS aliases, and the plain token endpoint sees no certificate', async () => {
    const metadata = await newClient({ issuer: as.issuer, clientId: CA_CLIENT, tls: tlsOf(pki.client) }).metadata();

    expect(metadata.mtls_endpoint_aliases).toEqual({
      token_endpoint: as.mtls!.tokenEndpoint,
      revocation_endpoint: as.mtls!.revocationEndpoint,
      introspection_endpoint: as.mtls!.introspectionEndpoint,
    });
    expect(metadata.token_endpoint_auth_methods_supported).toEqual(
      expect.arrayContaining(['tls_client_auth', 'self_signed_tls_client_auth']),
    );

    // The same client pointed at the plain endpoint cannot authenticate: the certificate is the credential.
    const plain = newClient({ tokenEndpoint: as.tokenEndpoint, clientId: CA_CLIENT, tls: tlsOf(pki.client), retry: false });
    const error = await plain.getToken().catch((e: unknown) => e);
    expect(error).toBeInstanceOf(OAuthError);
    expect((error as OAuthError).error).toBe('invalid_client');
  });

  it('tls_client_auth: discovery sends it to the alias, the CA-issued certificate authenticates, and the token is bound (cnf.x5t#S256)', async () => {
    const client = newClient({ issuer: as.issuer, clientId: CA_CLIENT, clientAuth: 'tls_client_auth', tls: tlsOf(pki.client) });

    const token = await client.getToken();

    expect(token.tokenType).toBe('Bearer');
    const introspection = await as.introspect(token.accessToken);
    expect(introspection.client_id).toBe(CA_CLIENT);
    expect(introspection.cnf).toEqual({ 'x5t#S256': pki.client.thumbprint });
  });

  it('tls_client_auth: the resource server accepts the bound token through client.fetch, and refuses it without that certificate', async () => {
    const client = newClient({ issuer: as.issuer, clientId: CA_CLIENT, tls: tlsOf(pki.client) });
    const rs = await resourceServer();

    const response = await client.fetch(`${rs.url}/orders`);

    expect(response.status).toBe(200);
    expect(((await response.json()) as Record<string, string>)['x5t#S256']).toBe(pki.client.thumbprint);
    const { accessToken } = await client.getToken();
    expect(await call(`${rs.url}/orders`, accessToken)).toBe(401);
    expect(await call(`${rs.url}/orders`, accessToken, pki.otherClient)).toBe(401);
    expect(await call(`${rs.url}/orders`, accessToken, pki.client)).toBe(200);
    expect(rs.seen.map((s) => [s.status, s.reason ?? null, s.certificate ?? null])).toEqual([
      [200, null, pki.client.thumbprint],
      [401, 'no client certificate', null],
      [401, 'token not bound to this certificate', pki.otherClient.thumbprint],
      [200, null, pki.client.thumbprint],
    ]);
  });

  it('self_signed_tls_client_auth: the certificate registered in jwks (x5c) authenticates; token bound to it and accepted', async () => {
    const client = newClient({
      issuer: as.issuer,
      clientId: SELF_SIGNED_CLIENT,
      clientAuth: 'self_signed_tls_client_auth',
      tls: tlsOf(pki.selfSigned),
    });
    const rs = await resourceServer();

    const response = await client.fetch(`${rs.url}/orders`);

    expect(response.status).toBe(200);
    const { accessToken } = await client.getToken();
    expect((await as.introspect(accessToken)).cnf).toEqual({ 'x5t#S256': pki.selfSigned.thumbprint });
    expect(await call(`${rs.url}/orders`, accessToken, pki.client)).toBe(401);
  });

  it('a certificate the client is not registered with fails with invalid_client (subject DN, self-signed thumbprint)', async () => {
    const wrongSubject = newClient({ issuer: as.issuer, clientId: CA_CLIENT, tls: tlsOf(pki.otherClient), retry: false });
    const unregistered = newClient({
      issuer: as.issuer,
      clientId: SELF_SIGNED_CLIENT,
      clientAuth: 'self_signed_tls_client_auth',
      tls: tlsOf(pki.client),
      retry: false,
    });

    const errors = await Promise.all([wrongSubject.getToken().catch((e: unknown) => e), unregistered.getToken().catch((e: unknown) => e)]);

    for (const error of errors) {
      expect(error).toBeInstanceOf(OAuthError);
      expect((error as OAuthError).error).toBe('invalid_client');
      const text = `${String(error)} ${inspect(error, { depth: 5 })} ${JSON.stringify(error)}`;
      expect(text).not.toContain(pemBody(pki.otherClient.key).slice(0, 40));
      expect(text).not.toContain(pemBody(pki.client.key).slice(0, 40));
    }
  });

  it('a token endpoint given directly (the alias) works without discovery; a JWT access token carries cnf.x5t#S256', async () => {
    const client = newClient({
      tokenEndpoint: as.mtls!.tokenEndpoint,
      clientId: CA_CLIENT,
      tls: tlsOf(pki.client),
      resource: API_RESOURCE,
    });
    const jwks = createRemoteJWKSet(new URL(as.jwksUri));
    const jwtClaims = async (token: string) => {
      try {
        return (await jwtVerify(token, jwks, { issuer: as.issuer, audience: API_RESOURCE })).payload as BoundClaims;
      } catch {
        return undefined;
      }
    };
    const rs = await resourceServer(jwtClaims);

    const { accessToken } = await client.getToken();

    expect((await jwtClaims(accessToken))?.cnf).toEqual({ 'x5t#S256': pki.client.thumbprint });
    expect((await client.fetch(`${rs.url}/orders`)).status).toBe(200);
  });

  it('certificate-bound tokens for a client that authenticates with a secret over the mutual-TLS connection', async () => {
    const client = newClient({ issuer: as.issuer, ...BOUND_SECRET_CLIENT, tls: tlsOf(pki.client) });
    const rs = await resourceServer();

    expect((await client.fetch(`${rs.url}/orders`)).status).toBe(200);
    const { accessToken } = await client.getToken();
    expect((await as.introspect(accessToken)).cnf).toEqual({ 'x5t#S256': pki.client.thumbprint });
  });

  it('revokes over the mutual-TLS alias, authenticating with the certificate (revoke() and close({ revoke: true }))', async () => {
    const client = newClient({ issuer: as.issuer, clientId: CA_CLIENT, tls: tlsOf(pki.client) });
    const first = await client.getToken();

    await client.revoke();
    const second = await client.getToken();
    const closed = await client.close({ revoke: true });

    expect((await as.introspect(first.accessToken)).active).toBe(false);
    expect((await as.introspect(second.accessToken)).active).toBe(false);
    expect(closed).toEqual({ revoked: 1, errors: [], skipped: 0 });
  });

  it('a demo secret client without tls gets unbound tokens from the same server (defaults unchanged)', async () => {
    const client = newClient({ issuer: as.issuer, ...demoClients.basic });

    const { accessToken } = await client.getToken();

    expect((await as.introspect(accessToken)).cnf).toBeUndefined();
  });

  it('the private key and the token never show in inspect, JSON or a failed request’s error', async () => {
    const client = newClient({ issuer: as.issuer, clientId: CA_CLIENT, tls: tlsOf(pki.client) });
    const token = await client.getToken();

    const shown = `${inspect(client, { depth: 10, showHidden: true })} ${JSON.stringify(client)}`;
    expect(shown).not.toContain(pemBody(pki.client.key).slice(0, 40));
    expect(shown).not.toContain(token.accessToken);

    // A TLS failure (server certificate from an unknown CA: no `ca` given) is a NETWORK error naming no secret.
    const untrusting = newClient({
      issuer: as.issuer,
      clientId: CA_CLIENT,
      tls: { cert: pki.client.cert, key: pki.client.key },
      retry: false,
    });
    const error = await untrusting.getToken().catch((e: unknown) => e);
    expect(error).toBeInstanceOf(TokenError);
    expect((error as TokenError).code).toBe('NETWORK');
    const text = `${String(error)} ${inspect(error, { depth: 5 })}`;
    expect(text).not.toContain(pemBody(pki.client.key).slice(0, 40));
  });
});
