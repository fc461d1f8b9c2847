/**
 * The `m2m-token` command as a user runs it: the built `dist/cli.cjs` (package.json `bin`) in a child
 * process (test/helpers/cli.ts), against the embedded authorization server of this test process.
 */
import { readFileSync } from 'node:fs';
import { SignJWT } from 'jose';
import { describe, expect, it } from 'vitest';
import { API_RESOURCE, demoClients } from '../examples/support/embedded-server.js';
import { cli, type CliRun as Run, closedPort, ROOT, transcript, useBuiltCli } from './helpers/cli.js';
import { useAuthorizationServer } from './integration/support.js';

useBuiltCli();
const as = useAuthorizationServer();
const { clientId, clientSecret } = demoClients.basic;

/** The environment for the token command against the embedded server, with the demo client's secret. */
const tokenEnv = (more: Record<string, string> = {}) => ({
  M2M_TOKEN_ENDPOINT: as().tokenEndpoint,
  M2M_CLIENT_ID: clientId,
  M2M_CLIENT_SECRET: clientSecret,
  ...more,
});

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
    expect(body).toMatchObject({
      access_token: expect.any(String),
      token_type: 'Bearer',
      expires_in: expect.any(Number),
      scope: 'orders:read',
    });
    // The embedded server issues 300-second tokens.
    expect(body.expires_in).toBeGreaterThanOrEqual(290);
    expect(body.expires_in).toBeLessThanOrEqual(300);
    expect(Date.parse(body.expires_at as string)).toBeGreaterThan(Date.now());
    expect((await as().introspect(body.access_token as string)).active).toBe(true);
  });

  it('takes flags instead of the environment (the secret still from M2M_CLIENT_SECRET)', async () => {
    const { post } = demoClients;
    const run = await cli(
      [
        'token',
        '--token-endpoint',
        as().tokenEndpoint,
        '--client-id',
        post.clientId,
        '--client-auth',
        'client_secret_post',
        '--scope',
        'orders:read',
        '--scope',
        'orders:write',
      ],
      { env: { M2M_CLIENT_SECRET: post.clientSecret } },
    );
    expect(run.code, transcript(run)).toBe(0);
    expect(await as().introspect(run.stdout.trim())).toMatchObject({
      active: true,
      client_id: post.clientId,
      scope: 'orders:read orders:write',
    });
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
    expect(badUrl.stderr).toContain('--token-endpoint must be an absolute URL');
    expect(badUrl.stderr).not.toContain('tokenEndpoint');
    const unknownFlag = await cli(['token', '--no-such-flag'], { env: tokenEnv() });
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
    const run = await cli(['revoke', '-'], {
      env: { M2M_ISSUER: as().issuer, M2M_CLIENT_ID: clientId, M2M_CLIENT_SECRET: clientSecret },
      stdin: `${token}\n`,
    });
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
      expect.stringMatching(/^client auth methods: {2}.*client_secret_basic/),
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
    expect(run.stderr).toContain('--allow-insecure-http');
    expect(run.stderr).not.toContain('allowInsecureHttp');
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
    // The command runs a moment after exp was computed: seconds, more on a loaded machine.
    expect(lines.at(-1)).toMatch(
      new RegExp(`^expires in (9m [0-5]\\ds|10m 0s) \\(${new Date(exp * 1000).toISOString().replace(/[.]/g, '\\.')}\\)$`),
    );
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
  it.each(['token', 'revoke', 'discover', 'inspect', 'doctor'])('"%s --help" exits 0 and prints the command\'s usage', async (command) => {
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

describe('--version', () => {
  it('prints the version of package.json and exits 0', async () => {
    const { version } = JSON.parse(readFileSync(`${ROOT}/package.json`, 'utf8')) as { version: string };
    const run = await cli(['--version']);
    expect(run.code, transcript(run)).toBe(0);
    expect(run.stdout).toBe(`${version}\n`);
  });
});

describe('--json', { timeout: 60_000 }, () => {
  /** The whole of standard output is one JSON document. */
  const parsed = (run: Run): unknown => {
    expect(run.code, transcript(run)).toBe(0);
    return JSON.parse(run.stdout) as unknown;
  };

  it('discover --json prints only the metadata, as JSON', async () => {
    const metadata = parsed(await cli(['discover', as().issuer, '--json']));
    expect(metadata).toMatchObject({ issuer: as().issuer, token_endpoint: as().tokenEndpoint });
  });

  it('inspect --json prints header, claims, expiry and verified: false as one JSON document', async () => {
    const exp = seconds() + 600;
    const body = parsed(await cli(['inspect', '--json', await jwt({ sub: 'svc-a', exp })])) as Record<string, unknown>;
    expect(body).toMatchObject({
      verified: false,
      header: { alg: 'HS256' },
      claims: { sub: 'svc-a', exp },
      expires_at: new Date(exp * 1000).toISOString(),
    });
    expect(body.expires_in).toBeGreaterThan(590);
  });

  it('revoke --json prints {"revoked":true}', async () => {
    const token = await tokenFromCli();
    expect(parsed(await cli(['revoke', '--json', token], { env: tokenEnv({ M2M_REVOCATION_ENDPOINT: as().revocationEndpoint }) }))).toEqual(
      { revoked: true },
    );
  });

  it('doctor --json prints the checks as a JSON array', async () => {
    const checks = parsed(await cli(['doctor', '--json'], { env: tokenEnv() })) as { check: string; status: string }[];
    expect(checks.map((c) => c.check)).toEqual([
      'endpoint',
      'client authentication',
      'token request',
      'token lifetime',
      'clock',
      'scope',
      'revocation endpoint',
      'proxy',
    ]);
  });

  it('reports an operation error as {"error":{code,message}} on standard error, nothing on standard output', async () => {
    const run = await cli(['token', '--json'], { env: tokenEnv({ M2M_CLIENT_SECRET: 'wrong-secret-never-echoed' }) });
    expect(run.code, transcript(run)).toBe(1);
    expect(run.stdout).toBe('');
    const { error } = JSON.parse(run.stderr) as { error: Record<string, unknown> };
    expect(error).toMatchObject({
      code: 'OAUTH_ERROR',
      oauth_error: 'invalid_client',
      status: 401,
      message: expect.stringContaining('invalid_client'),
    });
    expect(run.stderr).not.toContain('wrong-secret-never-echoed');
  });

  it('reports a usage error as {"error":{"code":"USAGE",...}} with exit 2', async () => {
    const run = await cli(['token', '--json'], { env: { M2M_CLIENT_ID: clientId } });
    expect(run.code, transcript(run)).toBe(2);
    expect(JSON.parse(run.stderr)).toEqual({
      error: { code: 'USAGE', message: 'missing endpoint: --token-endpoint / M2M_TOKEN_ENDPOINT or --issuer / M2M_ISSUER' },
    });
  });
});

describe('the environment', () => {
  it('an empty variable counts as unset (M2M_TOKEN_ENDPOINT="" with M2M_ISSUER uses discovery)', async () => {
    const run = await cli(['token'], {
      env: { ...tokenEnv({ M2M_ISSUER: as().issuer, M2M_SCOPE: '', M2M_AUDIENCE: '', M2M_CLIENT_AUTH: '' }), M2M_TOKEN_ENDPOINT: '' },
    });
    expect(run.code, transcript(run)).toBe(0);
    expect((await as().introspect(run.stdout.trim())).active).toBe(true);
  });

  it('an empty M2M_CLIENT_ID is a missing client id', async () => {
    const run = await cli(['token'], { env: tokenEnv({ M2M_CLIENT_ID: '' }) });
    expect(run.code, transcript(run)).toBe(2);
    expect(run.stderr).toContain('missing client id');
  });
});

describe('messages name flags, not library options', () => {
  it.each([
    [['--client-auth', 'client_secret_jwtx'], /--client-auth must be one of client_secret_basic/],
    [['--client-auth', 'private_key_jwt'], /--private-key-file must be set for --client-auth private_key_jwt/],
    [['--timeout', '0'], /--timeout must be a positive integer/],
  ])('%j', async (flags, message) => {
    const run = await cli(['token', ...flags], { env: tokenEnv() });
    expect(run.code, transcript(run)).toBe(2);
    expect(run.stderr).toMatch(message);
    expect(run.stderr).not.toMatch(/option `|clientAuth|privateKey/);
  });
});

describe('--verbose', () => {
  /** Every command, with --verbose, against the embedded server; returns the runs. */
  async function everyCommand(extra: string[]): Promise<{ token: string; runs: Run[] }> {
    const env = tokenEnv({ M2M_ISSUER: as().issuer, M2M_SCOPE: 'orders:read' });
    const tokenRun = await cli(['token', '--verbose', ...extra], { env });
    expect(tokenRun.code, transcript(tokenRun)).toBe(0);
    const token = extra.includes('--json')
      ? (JSON.parse(tokenRun.stdout) as { access_token: string }).access_token
      : tokenRun.stdout.trim();
    const runs = [
      tokenRun,
      await cli(['discover', '--verbose', as().issuer, ...extra]),
      await cli(['inspect', '--verbose', ...extra, await jwt({ sub: 'x' })]),
      await cli(['doctor', '--verbose', ...extra], { env }),
      await cli(['token', '--verbose', ...extra], { env: { ...env, M2M_CLIENT_SECRET: `${clientSecret}-wrong` } }),
      await cli(['revoke', '--verbose', ...extra, '-'], { env, stdin: token }),
    ];
    return { token, runs };
  }

  it.each([[[]], [['--json']]])(
    'prints each exchange on standard error and no secret anywhere (extra flags %j)',
    async (extra) => {
      const { token, runs } = await everyCommand(extra);
      const [tokenRun, discover, , doctor, failed, revoke] = runs;
      for (const run of [tokenRun!, discover!, doctor!, revoke!]) expect(run.code, transcript(run)).toBe(0);
      expect(failed!.code, transcript(failed!)).toBe(1);
      // The exchanges are there: the token request with the Basic scheme but not its credentials.
      expect(tokenRun!.stderr).toContain('/token');
      expect(tokenRun!.stderr).toContain('Basic [REDACTED]');
      expect(tokenRun!.stderr).toContain('[REDACTED]');
      expect(discover!.stderr).toContain('/.well-known/');
      expect(revoke!.stderr).toContain('/token/revocation');
      expect(failed!.stderr).toContain('invalid_client');
      // Nothing secret in any output but the token command's own stdout (the token is what it prints).
      const basic = Buffer.from(`${clientId}:${clientSecret}`).toString('base64');
      const everything = [tokenRun!.stderr, ...runs.slice(1).flatMap((run) => [run.stdout, run.stderr])].join('\n');
      for (const secret of [clientSecret, basic, token]) expect(everything).not.toContain(secret);
    },
    7 * 15_000,
  );
});
