/**
 * The `m2m-token` command as a user runs it: the built `dist/cli.js` (package.json `bin`) in a child
 * process, against the embedded authorization server of this test process. Children are spawned
 * asynchronously (a synchronous spawn would block the server they talk to) and killed after
 * {@link KILL_AFTER} ms.
 */
import { execFile, spawn } from 'node:child_process';
import { existsSync, readdirSync, statSync } from 'node:fs';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { SignJWT } from 'jose';
import { beforeAll, describe, expect, it } from 'vitest';
import { API_RESOURCE, demoClients } from '../examples/support/embedded-server.js';
import { useAuthorizationServer } from './integration/support.js';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const CLI = join(ROOT, 'dist', 'cli.js');
const KILL_AFTER = 15_000;
const BUILD_TIMEOUT = 180_000;

const as = useAuthorizationServer();
const { clientId, clientSecret } = demoClients.basic;

/** The newest modification time of the sources the CLI is built from. */
function newestSource(): number {
  const dir = join(ROOT, 'src');
  const times = readdirSync(dir, { recursive: true, encoding: 'utf8' }).map((name) => statSync(join(dir, name)).mtimeMs);
  return Math.max(...times, statSync(join(ROOT, 'package.json')).mtimeMs, statSync(join(ROOT, 'tsup.config.ts')).mtimeMs);
}

beforeAll(async () => {
  if (existsSync(CLI) && statSync(CLI).mtimeMs >= newestSource()) return;
  await new Promise<void>((resolve, reject) => {
    execFile('npm', ['run', 'build'], { cwd: ROOT, timeout: BUILD_TIMEOUT, killSignal: 'SIGKILL' }, (error, stdout, stderr) =>
      error ? reject(new Error(`npm run build failed: ${error.message}\n${stdout}\n${stderr}`)) : resolve(),
    );
  });
  expect(existsSync(CLI), 'npm run build did not produce dist/cli.js').toBe(true);
}, BUILD_TIMEOUT + 10_000);

interface Run {
  readonly code: number | null;
  readonly stdout: string;
  readonly stderr: string;
}

/**
 * Runs `node dist/cli.js ...args` with only PATH and `env` in its environment (no M2M_* from outside),
 * `stdin` written to its standard input (then closed).
 */
function cli(args: readonly string[], options: { env?: Record<string, string>; stdin?: string } = {}): Promise<Run> {
  const child = spawn(process.execPath, [CLI, ...args], {
    cwd: ROOT,
    env: { PATH: process.env.PATH ?? '', ...options.env },
    stdio: ['pipe', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  child.stdout.setEncoding('utf8').on('data', (chunk: string) => (stdout += chunk));
  child.stderr.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));
  child.stdin.on('error', () => {}); // the CLI may exit without reading its input
  child.stdin.end(options.stdin ?? '');
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`m2m-token ${args.join(' ')} still running after ${KILL_AFTER} ms\nstdout: ${stdout}\nstderr: ${stderr}`));
    }, KILL_AFTER);
    child.once('error', (error) => {
      clearTimeout(timer);
      reject(error);
    });
    child.once('close', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
  });
}

/** The environment for the token command against the embedded server, with the demo client's secret. */
const tokenEnv = (more: Record<string, string> = {}) => ({
  M2M_TOKEN_ENDPOINT: as().tokenEndpoint,
  M2M_CLIENT_ID: clientId,
  M2M_CLIENT_SECRET: clientSecret,
  ...more,
});

const transcript = (run: Run) => `exit ${run.code}\n--- stdout ---\n${run.stdout}\n--- stderr ---\n${run.stderr}`;

/** Gets a token with the CLI (asserting a clean run) and returns it. */
async function tokenFromCli(more: Record<string, string> = {}): Promise<string> {
  const run = await cli(['token'], { env: tokenEnv(more) });
  expect(run.code, transcript(run)).toBe(0);
  return run.stdout.trim();
}

const seconds = () => Math.floor(Date.now() / 1000);
const jwt = (claims: Record<string, unknown>) =>
  new SignJWT(claims).setProtectedHeader({ alg: 'HS256', typ: 'at+jwt', kid: 'test-key' }).sign(new TextEncoder().encode('k'.repeat(32)));

describe('m2m-token token', () => {
  it('prints exactly the access token, on one line, from the M2M_* variables; the token is active', async () => {
    const run = await cli(['token'], { env: tokenEnv({ M2M_SCOPE: 'orders:read orders:write' }) });
    expect(run.code, transcript(run)).toBe(0);
    expect(run.stderr).toBe('');
    expect(run.stdout).toMatch(/^[\x21-\x7e]+\n$/);
    const introspection = await as().introspect(run.stdout.trimEnd());
    expect(introspection).toMatchObject({ active: true, client_id: clientId, scope: 'orders:read orders:write' });
  });

  it('--json prints the token response: access_token, token_type, expires_in, expires_at, scope', async () => {
    const run = await cli(['token', '--json'], { env: tokenEnv({ M2M_SCOPE: 'orders:read' }) });
    expect(run.code, transcript(run)).toBe(0);
    const body = JSON.parse(run.stdout) as Record<string, unknown>;
    expect(body).toMatchObject({ access_token: expect.any(String), token_type: 'Bearer', expires_in: expect.any(Number), scope: 'orders:read' });
    // The embedded server issues 300-second tokens.
    expect(body.expires_in).toBeGreaterThanOrEqual(290);
    expect(body.expires_in).toBeLessThanOrEqual(300);
    expect(Date.parse(body.expires_at as string)).toBeGreaterThan(Date.now());
    expect((await as().introspect(body.access_token as string)).active).toBe(true);
  });

  it('takes flags instead of the environment (the secret still from M2M_CLIENT_SECRET)', async () => {
    const { post } = demoClients;
    const run = await cli(
      ['token', '--token-endpoint', as().tokenEndpoint, '--client-id', post.clientId, '--client-auth', 'client_secret_post', '--scope', 'orders:read', '--scope', 'orders:write'],
      { env: { M2M_CLIENT_SECRET: post.clientSecret } },
    );
    expect(run.code, transcript(run)).toBe(0);
    expect(await as().introspect(run.stdout.trim())).toMatchObject({ active: true, client_id: post.clientId, scope: 'orders:read orders:write' });
  });

  it('finds the token endpoint by discovery with --issuer', async () => {
    const run = await cli(['token', '--issuer', as().issuer, '--client-id', clientId], { env: { M2M_CLIENT_SECRET: clientSecret } });
    expect(run.code, transcript(run)).toBe(0);
    expect((await as().introspect(run.stdout.trim())).active).toBe(true);
  });

  it('--client-secret-stdin reads the secret from standard input', async () => {
    const run = await cli(['token', '--client-secret-stdin'], {
      env: { M2M_TOKEN_ENDPOINT: as().tokenEndpoint, M2M_CLIENT_ID: clientId },
      stdin: `${clientSecret}\n`,
    });
    expect(run.code, transcript(run)).toBe(0);
    expect((await as().introspect(run.stdout.trim())).active).toBe(true);
  });

  it.each([
    ['--client-secret value', ['--client-secret', 'flag-secret-never-echoed']],
    ['--client-secret=value', ['--client-secret=flag-secret-never-echoed']],
  ])('refuses %s with exit 2, pointing to M2M_CLIENT_SECRET, without echoing the value or calling the server', async (_, flag) => {
    const issuedBefore = as().issued();
    const run = await cli(['token', ...flag], { env: tokenEnv() });
    expect(run.code, transcript(run)).toBe(2);
    expect(run.stdout).toBe('');
    expect(run.stderr).toContain('M2M_CLIENT_SECRET');
    expect(run.stderr).toContain('--client-secret-stdin');
    expect(run.stderr).not.toContain('flag-secret-never-echoed');
    expect(as().issued()).toBe(issuedBefore);
  });

  it('exits 2 without a client id', async () => {
    const run = await cli(['token'], { env: { M2M_TOKEN_ENDPOINT: as().tokenEndpoint, M2M_CLIENT_SECRET: clientSecret } });
    expect(run.code, transcript(run)).toBe(2);
    expect(run.stderr).toMatch(/missing client id: --client-id or M2M_CLIENT_ID/);
    expect(run.stdout).toBe('');
  });

  it('exits 2 without a token endpoint or issuer', async () => {
    const run = await cli(['token'], { env: { M2M_CLIENT_ID: clientId, M2M_CLIENT_SECRET: clientSecret } });
    expect(run.code, transcript(run)).toBe(2);
    expect(run.stderr).toMatch(/missing endpoint: --token-endpoint \/ M2M_TOKEN_ENDPOINT or --issuer \/ M2M_ISSUER/);
  });

  it('exits 2 for an invalid option value (a token endpoint that is not a URL), an unknown flag or a stray argument', async () => {
    const badUrl = await cli(['token'], { env: tokenEnv({ M2M_TOKEN_ENDPOINT: 'not a url' }) });
    expect(badUrl.code, transcript(badUrl)).toBe(2);
    expect(badUrl.stderr).toContain('tokenEndpoint');
    const unknownFlag = await cli(['token', '--verbose'], { env: tokenEnv() });
    expect(unknownFlag.code, transcript(unknownFlag)).toBe(2);
    const stray = await cli(['token', 'extra'], { env: tokenEnv() });
    expect(stray.code, transcript(stray)).toBe(2);
    expect(stray.stderr).toContain('takes no arguments');
  });

  it('exits 1 with OAUTH_ERROR invalid_client for a wrong secret, and shows no secret', async () => {
    const run = await cli(['token'], { env: tokenEnv({ M2M_CLIENT_SECRET: 'wrong-secret-never-echoed' }) });
    expect(run.code, transcript(run)).toBe(1);
    expect(run.stdout).toBe('');
    expect(run.stderr).toMatch(/^m2m-token token: OAUTH_ERROR: .*invalid_client/);
    expect(run.stderr).not.toContain('wrong-secret-never-echoed');
    expect(run.stderr).not.toContain(clientSecret);
    expect(run.stderr).not.toContain(Buffer.from(`${clientId}:wrong-secret-never-echoed`).toString('base64'));
  });

  it('exits 1 with NETWORK when nothing listens at the token endpoint', async () => {
    const port = await closedPort();
    const run = await cli(['token'], { env: tokenEnv({ M2M_TOKEN_ENDPOINT: `http://127.0.0.1:${port}/token` }) });
    expect(run.code, transcript(run)).toBe(1);
    expect(run.stderr).toMatch(/^m2m-token token: NETWORK: /);
  });
});

describe('m2m-token revoke', () => {
  it('revokes the token given as an argument: exit 0, and the token is no longer active', async () => {
    const token = await tokenFromCli();
    const run = await cli(['revoke', token], { env: tokenEnv({ M2M_REVOCATION_ENDPOINT: as().revocationEndpoint }) });
    expect(run.code, transcript(run)).toBe(0);
    expect(run.stdout).toBe('');
    expect(run.stderr).toBe('revoked\n');
    expect((await as().introspect(token)).active).toBe(false);
  });

  it('takes a token that starts with "-" (base64url tokens can) as the token, not as an option', async () => {
    const run = await cli(['revoke', '-gWithADash'], { env: tokenEnv({ M2M_REVOCATION_ENDPOINT: as().revocationEndpoint }) });
    expect(run.code, transcript(run)).toBe(0);
    expect(run.stderr).toBe('revoked\n');
  });

  it('"revoke -" reads the token from standard input, and finds the revocation endpoint from the issuer', async () => {
    const token = await tokenFromCli();
    const run = await cli(['revoke', '-'], { env: { M2M_ISSUER: as().issuer, M2M_CLIENT_ID: clientId, M2M_CLIENT_SECRET: clientSecret }, stdin: `${token}\n` });
    expect(run.code, transcript(run)).toBe(0);
    expect((await as().introspect(token)).active).toBe(false);
  });

  it('exits 1 with CONFIG when no revocation endpoint or issuer is known', async () => {
    const token = await tokenFromCli();
    const run = await cli(['revoke', token], { env: tokenEnv() });
    expect(run.code, transcript(run)).toBe(1);
    expect(run.stderr).toMatch(/^m2m-token revoke: CONFIG: no revocation endpoint/);
    expect(run.stderr).not.toContain(token);
    expect((await as().introspect(token)).active).toBe(true);
  });

  it('exits 2 without a token argument, or with an empty token on standard input', async () => {
    const missing = await cli(['revoke'], { env: tokenEnv({ M2M_REVOCATION_ENDPOINT: as().revocationEndpoint }) });
    expect(missing.code, transcript(missing)).toBe(2);
    const empty = await cli(['revoke', '-'], { env: tokenEnv({ M2M_REVOCATION_ENDPOINT: as().revocationEndpoint }), stdin: '\n' });
    expect(empty.code, transcript(empty)).toBe(2);
    expect(empty.stderr).toContain('the token is empty');
  });
});

describe('m2m-token discover', () => {
  it('prints the issuer, the endpoints, the auth methods, then the metadata as JSON', async () => {
    const { issuer, tokenEndpoint, revocationEndpoint } = as();
    const run = await cli(['discover', issuer]);
    expect(run.code, transcript(run)).toBe(0);
    const lines = run.stdout.split('\n');
    expect(lines.slice(0, 4)).toEqual([
      `issuer:               ${issuer}`,
      `token endpoint:       ${tokenEndpoint}`,
      `revocation endpoint:  ${revocationEndpoint}`,
      expect.stringMatching(/^client auth methods:  .*client_secret_basic/),
    ]);
    const metadata = JSON.parse(lines.slice(4).join('\n')) as Record<string, unknown>;
    expect(metadata).toMatchObject({ issuer, token_endpoint: tokenEndpoint, revocation_endpoint: revocationEndpoint });
  });

  it('exits 1 for an issuer whose metadata cannot be found', async () => {
    const run = await cli(['discover', `${as().issuer}/no-such-tenant`]);
    expect(run.code, transcript(run)).toBe(1);
    expect(run.stdout).toBe('');
    expect(run.stderr).toMatch(/^m2m-token discover: [A-Z_]+: /);
  });

  it('exits 1 when the metadata is for another issuer (localhost instead of 127.0.0.1)', async () => {
    const other = as().issuer.replace('127.0.0.1', 'localhost');
    const run = await cli(['discover', other]);
    expect(run.code, transcript(run)).toBe(1);
    expect(run.stderr).toMatch(/^m2m-token discover: INVALID_RESPONSE: .*is for issuer/);
  });

  it('exits 2 for an http: issuer that is not loopback without --allow-insecure-http', async () => {
    const run = await cli(['discover', 'http://auth.example.com']);
    expect(run.code, transcript(run)).toBe(2);
    expect(run.stderr).toContain('allowInsecureHttp');
  });
});

describe('m2m-token inspect', () => {
  it('decodes a JWT header and claims, says NOT VERIFIED, and shows the time to expiry', async () => {
    const exp = seconds() + 600;
    const token = await jwt({ sub: 'svc-a', scope: 'orders:read', aud: 'https://api.example.com', exp });
    const run = await cli(['inspect', token]);
    expect(run.code, transcript(run)).toBe(0);
    const lines = run.stdout.trimEnd().split('\n');
    expect(lines[0]).toMatch(/^NOT VERIFIED/);
    expect(lines.at(-1)).toMatch(new RegExp(`^expires in (9m 59s|10m 0s) \\(${new Date(exp * 1000).toISOString().replace(/[.]/g, '\\.')}\\)$`));
    const decoded = JSON.parse(lines.slice(1, -1).join('\n')) as { header: Record<string, unknown>; claims: Record<string, unknown> };
    expect(decoded).toEqual({
      header: { alg: 'HS256', typ: 'at+jwt', kid: 'test-key' },
      claims: { sub: 'svc-a', scope: 'orders:read', aud: 'https://api.example.com', exp },
    });
  });

  it('says how long ago an expired token expired, and "no exp claim" without one', async () => {
    const expired = await cli(['inspect', await jwt({ sub: 'a', exp: seconds() - 7200 })]);
    expect(expired.code, transcript(expired)).toBe(0);
    expect(expired.stdout).toMatch(/^expired 2h 0m ago \(/m);
    const noExp = await cli(['inspect', await jwt({ sub: 'a' })]);
    expect(noExp.code, transcript(noExp)).toBe(0);
    expect(noExp.stdout).toMatch(/^no exp claim$/m);
  });

  it('"inspect -" reads the token from standard input: a JWT access token from the embedded server (RFC 9068)', async () => {
    const token = await tokenFromCli({ M2M_RESOURCE: API_RESOURCE, M2M_SCOPE: 'orders:read' });
    const run = await cli(['inspect', '-'], { stdin: `${token}\n` });
    expect(run.code, transcript(run)).toBe(0);
    expect(run.stdout).toContain('"typ": "at+jwt"');
    expect(run.stdout).toContain(`"aud": "${API_RESOURCE}"`);
    expect(run.stdout).toContain(`"client_id": "${clientId}"`);
    expect(run.stdout).toMatch(/^expires in (4m \d+s|5m 0s) /m);
  });

  it('exits 2 for an opaque token, saying opaque tokens cannot be inspected', async () => {
    const opaque = await tokenFromCli();
    const run = await cli(['inspect', opaque]);
    expect(run.code, transcript(run)).toBe(2);
    expect(run.stdout).toBe('');
    expect(run.stderr).toMatch(/not a JWT: .*opaque tokens cannot be inspected/);
  });

  it('exits 2 for three parts that are not base64url JSON objects', async () => {
    const run = await cli(['inspect', 'abc.def.ghi']);
    expect(run.code, transcript(run)).toBe(2);
    expect(run.stderr).toMatch(/not a JWT: the header is not a base64url JSON object/);
  });
});

describe('usage', () => {
  it.each(['token', 'revoke', 'discover', 'inspect'])('"%s --help" exits 0 and prints the command\'s usage', async (command) => {
    const run = await cli([command, '--help']);
    expect(run.code, transcript(run)).toBe(0);
    expect(run.stdout).toMatch(new RegExp(`^Usage: m2m-token ${command} `));
    expect(run.stderr).toBe('');
  });

  it('"--help" exits 0 and lists the commands and exit codes', async () => {
    const run = await cli(['--help']);
    expect(run.code, transcript(run)).toBe(0);
    for (const command of ['token', 'revoke <token>', 'discover <issuer>', 'inspect <token>']) expect(run.stdout).toContain(command);
    expect(run.stdout).toContain('Exit codes: 0 success, 1 the operation failed, 2 usage error.');
  });

  it('no command exits 2 with the usage on standard error', async () => {
    const run = await cli([]);
    expect(run.code, transcript(run)).toBe(2);
    expect(run.stdout).toBe('');
    expect(run.stderr).toMatch(/^Usage: m2m-token <command>/);
  });

  it('an unknown command exits 2 and names it', async () => {
    const run = await cli(['frobnicate']);
    expect(run.code, transcript(run)).toBe(2);
    expect(run.stderr).toMatch(/^m2m-token: unknown command "frobnicate"/);
  });
});

/** A loopback port that nothing listens on (bound, then released). */
async function closedPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  await new Promise((resolve) => server.close(resolve));
  return port;
}
