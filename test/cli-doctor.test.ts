/**
 * `m2m-token doctor` as a user runs it (the built command), against the embedded authorization server
 * and small loopback servers for what it cannot produce: an untrusted certificate, a wrong clock.
 * Each failure mode pins down the ✗ line, its hint and the exit code.
 */
import { once } from 'node:events';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer as createHttpServer, type Server } from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { API_RESOURCE, demoClients, RESTRICTED_SCOPE } from '../examples/support/embedded-server.js';
import { createCa, createPki, type TestPki } from './helpers/certs.js';
import { cli, closedPort, transcript, useBuiltCli } from './helpers/cli.js';
import { useAuthorizationServer } from './integration/support.js';

useBuiltCli();
const as = useAuthorizationServer();
const { clientId, clientSecret } = demoClients.basic;

const env = (more: Record<string, string> = {}) => ({
  M2M_ISSUER: as().issuer,
  M2M_CLIENT_ID: clientId,
  M2M_CLIENT_SECRET: clientSecret,
  ...more,
});

/** The output line of one check (there is exactly one). */
function line(stdout: string, check: string): string {
  const lines = stdout.split('\n').filter((l) => l.slice(2).startsWith(`${check}:`));
  expect(lines, stdout).toHaveLength(1);
  return lines[0]!;
}

async function listen(server: Server): Promise<string> {
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  return `127.0.0.1:${(server.address() as AddressInfo).port}`;
}

const servers: Server[] = [];
let dir: string;
let pki: TestPki;
beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'm2m-doctor-'));
  pki = await createPki();
});
afterAll(async () => {
  rmSync(dir, { recursive: true, force: true });
  await Promise.all(servers.map((s) => new Promise((resolve) => s.close(resolve))));
});

// Each test spawns the command (a few seconds each on a loaded machine).
describe('m2m-token doctor', { timeout: 60_000 }, () => {
  it('passes every check for a working configuration, one ✓ line per check, exit 0', async () => {
    const run = await cli(['doctor'], { env: env({ M2M_SCOPE: 'orders:read' }) });
    expect(run.code, transcript(run)).toBe(0);
    const lines = run.stdout.trimEnd().split('\n');
    expect(lines.map((l) => l.split(':')[0])).toEqual([
      '✓ endpoint',
      '✓ discovery',
      '✓ client authentication',
      '✓ token request',
      '✓ token lifetime',
      '✓ clock',
      '✓ scope',
      '✓ revocation endpoint',
      '✓ proxy',
    ]);
    expect(line(run.stdout, 'token lifetime')).toMatch(
      /expires_in 300 s; the client refreshes it after about 3m 36s and hands it out for at most 4m 30s/,
    );
    expect(line(run.stdout, 'scope')).toBe('✓ scope: requested orders:read; granted orders:read');
    expect(run.stderr).toBe('');
  });

  it("shows a JWT access token's exp (decoded, the token itself never printed)", async () => {
    const run = await cli(['doctor', '--resource', API_RESOURCE], { env: env() });
    expect(run.code, transcript(run)).toBe(0);
    expect(line(run.stdout, 'token lifetime')).toMatch(/^✓ token lifetime: expires_in 300 s, JWT exp \d{4}-\d\d-\d\dT/);
    expect(run.stdout).not.toMatch(/eyJ/);
  });

  it('wrong secret: ✗ token request invalid_client, hint wrong or rotated secret, exit 1; the secret is not shown', async () => {
    const run = await cli(['doctor'], { env: env({ M2M_CLIENT_SECRET: 'rotated-secret-never-echoed' }) });
    expect(run.code, transcript(run)).toBe(1);
    expect(line(run.stdout, 'client authentication')).toMatch(/^✓ /);
    expect(line(run.stdout, 'token request')).toMatch(
      /^✗ token request: authorization server returned invalid_client \(HTTP 401\).* → wrong client id or secret \(rotated or expired\?\), or the client is registered for another method: try --client-auth client_secret_post$/,
    );
    expect(run.stdout + run.stderr).not.toContain('rotated-secret-never-echoed');
  });

  it('wrong method (a client_secret_basic client with client_secret_jwt): ✗ invalid_client, hint another registered method, exit 1', async () => {
    const run = await cli(['doctor', '--client-auth', 'client_secret_jwt'], { env: env() });
    expect(run.code, transcript(run)).toBe(1);
    expect(line(run.stdout, 'client authentication')).toMatch(/^✓ client authentication: client_secret_jwt is supported/);
    expect(line(run.stdout, 'token request')).toMatch(
      /^✗ token request: .*invalid_client.* → wrong secret \(rotated\?\), .* or the client is registered for another method$/,
    );
  });

  it("a method the server does not offer (mutual TLS here): ✗ client authentication with the server's methods", async () => {
    const cert = join(dir, 'client.pem');
    const key = join(dir, 'client-key.pem');
    writeFileSync(cert, pki.selfSigned.cert);
    writeFileSync(key, pki.selfSigned.key, { mode: 0o600 });
    const run = await cli(['doctor', '--client-auth', 'self_signed_tls_client_auth', '--cert-file', cert, '--key-file', key], {
      env: { M2M_ISSUER: as().issuer, M2M_CLIENT_ID: clientId },
    });
    expect(run.code, transcript(run)).toBe(1);
    expect(line(run.stdout, 'client authentication')).toBe(
      "✗ client authentication: self_signed_tls_client_auth is not among the server's methods (client_secret_basic, client_secret_jwt, client_secret_post, private_key_jwt, none) → the server accepts none of the methods your credentials allow: register the client for one of client_secret_basic, client_secret_jwt, client_secret_post, private_key_jwt, none",
    );
  });

  it('a secret with reserved characters and client_secret_basic: the hint suggests client_secret_post', async () => {
    const run = await cli(['doctor'], { env: env({ M2M_CLIENT_ID: demoClients.special.clientId, M2M_CLIENT_SECRET: 'wrong:s@cret' }) });
    expect(run.code, transcript(run)).toBe(1);
    expect(line(run.stdout, 'token request')).toMatch(
      /^✗ token request: .*invalid_client.* → the secret contains characters that client_secret_basic form-encodes .* try --client-auth client_secret_post/,
    );
  });

  it('a scope the client may not have: ✗ token request invalid_scope, hint the allowed scopes, exit 1', async () => {
    const run = await cli(['doctor', '--scope', RESTRICTED_SCOPE], { env: env() });
    expect(run.code, transcript(run)).toBe(1);
    expect(line(run.stdout, 'token request')).toMatch(
      new RegExp(
        `^✗ token request: .*invalid_scope.* → the client is not allowed \\(some of\\) the scope "${RESTRICTED_SCOPE}".*check the client's allowed scopes$`,
      ),
    );
  });

  it('a scope the server does not know (dropped from the grant): ! scope with what was not granted, exit 0', async () => {
    const run = await cli(['doctor', '--scope', 'orders:read unknown:scope'], { env: env() });
    expect(run.code, transcript(run)).toBe(0);
    expect(line(run.stdout, 'scope')).toMatch(
      /^! scope: requested orders:read unknown:scope; granted orders:read → not granted: unknown:scope; /,
    );
  });

  it("wrong issuer (localhost for 127.0.0.1): ✗ discovery naming the metadata's issuer, hint to use it, exit 1", async () => {
    const wrong = as().issuer.replace('127.0.0.1', 'localhost');
    const run = await cli(['doctor'], { env: env({ M2M_ISSUER: wrong }) });
    expect(run.code, transcript(run)).toBe(1);
    expect(line(run.stdout, 'discovery')).toBe(
      `✗ discovery: metadata at ${wrong}/.well-known/oauth-authorization-server names issuer "${as().issuer}", not "${wrong}" → set --issuer ${as().issuer} (issuers are compared exactly: host name, port, path and trailing slash)`,
    );
    expect(run.stdout).not.toContain('token request');
  });

  it('unreachable host (a closed loopback port): ✗ endpoint connection refused, hint nothing listens, exit 1', async () => {
    const port = await closedPort();
    const run = await cli(['doctor'], { env: env({ M2M_ISSUER: '', M2M_TOKEN_ENDPOINT: `http://127.0.0.1:${port}/token` }) });
    expect(run.code, transcript(run)).toBe(1);
    expect(line(run.stdout, 'endpoint')).toBe(
      `✗ endpoint: http://127.0.0.1:${port}: connection refused by 127.0.0.1:${port} (ECONNREFUSED) → nothing listens there: check the host and port of the URL, and that the server is running`,
    );
    expect(run.stdout).not.toContain('token request');
  });

  it('untrusted certificate, self-signed: ✗ endpoint names it self-signed and NODE_EXTRA_CA_CERTS, exit 1', async () => {
    const selfSigned = await createCa('CN=127.0.0.1');
    const server = createHttpsServer({ cert: selfSigned.cert, key: selfSigned.key }, (_req, res) => res.end());
    servers.push(server);
    const host = await listen(server);
    const run = await cli(['doctor'], { env: env({ M2M_ISSUER: '', M2M_TOKEN_ENDPOINT: `https://${host}/token` }) });
    expect(run.code, transcript(run)).toBe(1);
    expect(line(run.stdout, 'endpoint')).toMatch(
      /^✗ endpoint: https:\/\/127\.0\.0\.1:\d+: TLS certificate not trusted: self-signed \(DEPTH_ZERO_SELF_SIGNED_CERT\) → the server uses a self-signed certificate or a private CA: trust the CA that issued it: NODE_EXTRA_CA_CERTS=/,
    );
  });

  it('untrusted certificate, unknown issuer: ✗ endpoint says so; with NODE_EXTRA_CA_CERTS naming the CA, ✓', async () => {
    const server = createHttpsServer({ cert: pki.server.cert, key: pki.server.key }, (_req, res) => res.end());
    servers.push(server);
    const host = await listen(server);
    const untrusted = await cli(['doctor'], { env: env({ M2M_ISSUER: '', M2M_TOKEN_ENDPOINT: `https://${host}/token` }) });
    expect(untrusted.code, transcript(untrusted)).toBe(1);
    expect(line(untrusted.stdout, 'endpoint')).toMatch(
      /^✗ endpoint: .*TLS certificate not trusted: unknown issuer \(UNABLE_TO_VERIFY_LEAF_SIGNATURE\) → .*NODE_EXTRA_CA_CERTS=/,
    );
    const caFile = join(dir, 'ca.pem');
    writeFileSync(caFile, pki.ca.cert);
    const trusted = await cli(['doctor'], {
      env: env({ M2M_ISSUER: '', M2M_TOKEN_ENDPOINT: `https://${host}/token`, NODE_EXTRA_CA_CERTS: caFile }),
    });
    expect(line(trusted.stdout, 'endpoint')).toBe(`✓ endpoint: https://${host} reachable, TLS certificate trusted`);
  });

  it('warns (exit 0) about a server clock 2 minutes ahead, a missing revocation endpoint and proxy variables', async () => {
    const server = createHttpServer((req, res) => {
      req.resume();
      res.setHeader('date', new Date(Date.now() + 120_000).toUTCString());
      res.setHeader('content-type', 'application/json');
      res.end(JSON.stringify({ access_token: 'opaque-token-never-printed', token_type: 'Bearer', expires_in: 3600 }));
    });
    servers.push(server);
    const host = await listen(server);
    const run = await cli(['doctor'], {
      env: env({
        M2M_ISSUER: '',
        M2M_TOKEN_ENDPOINT: `http://${host}/token`,
        HTTPS_PROXY: 'http://user:proxy-password@proxy.example:3128',
        NO_PROXY: '',
      }),
    });
    expect(run.code, transcript(run)).toBe(0);
    expect(line(run.stdout, 'clock')).toMatch(
      /^! clock: server Date .* GMT, 1(19|20|21) s ahead of this machine → synchronise the clocks \(NTP\)/,
    );
    expect(line(run.stdout, 'revocation endpoint')).toMatch(/^! revocation endpoint: none known → /);
    expect(line(run.stdout, 'proxy')).toMatch(/^! proxy: HTTPS_PROXY set → m2m-token does not use a proxy yet/);
    expect(line(run.stdout, 'client authentication')).toMatch(
      /^! client authentication: client_secret_basic; not compared .* add --issuer/,
    );
    expect(run.stdout).not.toContain('opaque-token-never-printed');
    expect(run.stdout).not.toContain('proxy-password');
  });
});
