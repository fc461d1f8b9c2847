/**
 * The client authentication flags of the built `m2m-token` command against the embedded authorization
 * server: private_key_jwt (--private-key-file, PEM or JWK, --key-id, --alg), client_secret_jwt, and
 * mutual TLS (--cert-file, --key-file, --ca-file). Keys are generated at test time into a temporary
 * directory that is removed afterwards.
 */
import { generateKeyPairSync } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type AuthorizationServer, startAuthorizationServer } from '../examples/support/embedded-server.js';
import { createPki, pemBody, type TestPki } from './helpers/certs.js';
import { cli, transcript, useBuiltCli } from './helpers/cli.js';

useBuiltCli();

const PKJWT_CLIENT = 'cli-private-key-jwt';
const JWT_SECRET_CLIENT = { clientId: 'cli-client-secret-jwt', clientSecret: 'cli-client-secret-jwt-demo-secret-0123456789' };
const MTLS_CLIENT = 'cli-mtls';
const KID = 'cli-test-key';

const { privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
const privatePem = privateKey.export({ type: 'pkcs8', format: 'pem' }) as string;
const privateJwk = privateKey.export({ format: 'jwk' });

let as: AuthorizationServer;
let pki: TestPki;
let dir: string;
const file = (name: string, content: string) => {
  const path = join(dir, name);
  writeFileSync(path, content, { mode: 0o600 });
  return path;
};

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'm2m-cli-auth-'));
  pki = await createPki();
  as = await startAuthorizationServer({
    mtls: { cert: pki.server.cert, key: pki.server.key, ca: pki.ca.cert },
    clients: [
      {
        client_id: PKJWT_CLIENT,
        token_endpoint_auth_method: 'private_key_jwt',
        jwks: { keys: [{ ...publicKey.export({ format: 'jwk' }), kid: KID } as never] },
      },
      {
        client_id: JWT_SECRET_CLIENT.clientId,
        client_secret: JWT_SECRET_CLIENT.clientSecret,
        token_endpoint_auth_method: 'client_secret_jwt',
      },
      { client_id: MTLS_CLIENT, token_endpoint_auth_method: 'tls_client_auth', tls_client_auth_subject_dn: pki.client.subject },
    ],
  });
});
afterAll(async () => {
  rmSync(dir, { recursive: true, force: true });
  await as?.close();
});

describe('private_key_jwt', () => {
  it('--private-key-file with a PEM key gets a token; the key never shows, even with --verbose', async () => {
    const run = await cli([
      'token',
      '--verbose',
      '--token-endpoint',
      as.tokenEndpoint,
      '--client-id',
      PKJWT_CLIENT,
      '--private-key-file',
      file('key.pem', privatePem),
      '--key-id',
      KID,
    ]);
    expect(run.code, transcript(run)).toBe(0);
    expect((await as.introspect(run.stdout.trim())).active).toBe(true);
    expect(run.stderr).toContain('client_assertion=[REDACTED]');
    expect(run.stderr).not.toContain(pemBody(privatePem).slice(0, 40));
    expect(run.stderr).not.toContain(privateJwk.d);
  });

  it('M2M_PRIVATE_KEY_FILE with a JWK (JSON), M2M_KEY_ID and M2M_ALG', async () => {
    const run = await cli(['token'], {
      env: {
        M2M_ISSUER: as.issuer,
        M2M_CLIENT_ID: PKJWT_CLIENT,
        M2M_PRIVATE_KEY_FILE: file('key.json', JSON.stringify(privateJwk)),
        M2M_KEY_ID: KID,
        M2M_ALG: 'ES256',
      },
    });
    expect(run.code, transcript(run)).toBe(0);
    expect((await as.introspect(run.stdout.trim())).active).toBe(true);
  });

  it('an --alg that does not fit the key is a usage error naming --alg and --private-key-file', async () => {
    const run = await cli([
      'token',
      '--token-endpoint',
      as.tokenEndpoint,
      '--client-id',
      PKJWT_CLIENT,
      '--private-key-file',
      file('key2.pem', privatePem),
      '--alg',
      'RS256',
    ]);
    expect(run.code, transcript(run)).toBe(2);
    expect(run.stderr).toMatch(/--alg RS256 does not fit the .* key of --private-key-file \(use ES256\)/);
  });

  it('a missing key file is a usage error naming the flag and the path', async () => {
    const missing = join(dir, 'nope.pem');
    const run = await cli(['token', '--token-endpoint', as.tokenEndpoint, '--client-id', PKJWT_CLIENT, '--private-key-file', missing]);
    expect(run.code, transcript(run)).toBe(2);
    expect(run.stderr).toContain(`--private-key-file: cannot read ${missing} (ENOENT)`);
  });
});

describe('client_secret_jwt', () => {
  it('--client-auth client_secret_jwt with M2M_CLIENT_SECRET gets a token', async () => {
    const run = await cli(['token', '--client-auth', 'client_secret_jwt'], {
      env: { M2M_ISSUER: as.issuer, M2M_CLIENT_ID: JWT_SECRET_CLIENT.clientId, M2M_CLIENT_SECRET: JWT_SECRET_CLIENT.clientSecret },
    });
    expect(run.code, transcript(run)).toBe(0);
    expect((await as.introspect(run.stdout.trim())).active).toBe(true);
  });
});

describe('mutual TLS', () => {
  it('--cert-file, --key-file and --ca-file get a token with tls_client_auth', async () => {
    const run = await cli(['token', '--token-endpoint', as.mtls!.tokenEndpoint, '--client-id', MTLS_CLIENT], {
      env: {
        M2M_CERT_FILE: file('client.pem', pki.client.cert),
        M2M_KEY_FILE: file('client-key.pem', pki.client.key),
        M2M_CA_FILE: file('ca.pem', pki.ca.cert),
      },
    });
    expect(run.code, transcript(run)).toBe(0);
    expect((await as.introspect(run.stdout.trim())).active).toBe(true);
  });

  it('--ca-file without a client certificate is a usage error pointing to NODE_EXTRA_CA_CERTS', async () => {
    const run = await cli([
      'token',
      '--token-endpoint',
      as.tokenEndpoint,
      '--client-id',
      MTLS_CLIENT,
      '--ca-file',
      file('ca2.pem', pki.ca.cert),
    ]);
    expect(run.code, transcript(run)).toBe(2);
    expect(run.stderr).toContain('NODE_EXTRA_CA_CERTS');
  });

  it('--cert-file without --key-file is a usage error', async () => {
    const run = await cli([
      'token',
      '--token-endpoint',
      as.tokenEndpoint,
      '--client-id',
      MTLS_CLIENT,
      '--cert-file',
      file('client2.pem', pki.client.cert),
    ]);
    expect(run.code, transcript(run)).toBe(2);
    expect(run.stderr).toContain('mutual TLS needs both --cert-file and --key-file');
  });
});
