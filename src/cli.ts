#!/usr/bin/env node
/**
 * The `m2m-token` command: a token in your terminal without writing code.
 *
 * @example
 * ```sh
 * export M2M_TOKEN_ENDPOINT=https://auth.example.com/oauth2/token M2M_CLIENT_ID=svc-a M2M_CLIENT_SECRET=…
 * curl -H "Authorization: Bearer $(npx m2m-token token)" https://api.example.com/orders
 * ```
 * @module
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { ClientCredentialsClient } from './client.js';
import { OAuthError, TokenError } from './errors.js';
import type { ClientCredentialsOptions } from './options.js';
import { formatExchange } from './cli/format-exchange.js';
import { type TraceExchange, traceFetch } from './trace.js';
import { formatCheck, runDoctor } from './cli/doctor.js';
import { CLIENT_FLAGS, CLIENT_HELP, clientOptions, COMMON_FLAGS, flagMessage, type Io, parse, UsageError } from './cli/options.js';

/** Exit codes: 0 success, 1 the operation failed (server, network, token), 2 usage error. */
const EXIT_FAILED = 1;
const EXIT_USAGE = 2;

const HELP: Record<string, string> = {
  main: `Usage: m2m-token <command> [options]

OAuth 2.0 client credentials tokens from the command line.

Commands:
  token              print an access token (--json: the whole token response)
  revoke <token>     revoke a token (RFC 7009); "-" reads it from standard input
  discover <issuer>  show the authorization server metadata the client would use
  inspect <token>    decode a JWT access token (without verifying it); "-" reads standard input
  doctor             check a client configuration step by step and say what is wrong

Every command takes --json (JSON on standard output, errors as JSON on standard error) and
--verbose (each HTTP exchange on standard error, secrets redacted).
Run "m2m-token <command> --help" for a command's options; "m2m-token --version" for the version.
Exit codes: 0 success, 1 the operation failed, 2 usage error.`,
  token: `Usage: m2m-token token [options] [--json]

Prints an access token, for example:
  curl -H "Authorization: Bearer $(m2m-token token)" https://api.example.com/

  --json   print the token response as JSON (access token included)

${CLIENT_HELP}`,
  revoke: `Usage: m2m-token revoke <token|-> [options]

Revokes the token at the revocation endpoint (from --revocation-endpoint or the issuer's metadata).
With --json, prints {"revoked":true}.

${CLIENT_HELP}`,
  discover: `Usage: m2m-token discover <issuer> [--json] [--verbose] [--allow-insecure-http]

Fetches the issuer's metadata (RFC 8414, then OpenID Connect Discovery), checks that it belongs to
the issuer, and prints the endpoints the client would use and, as JSON, the metadata members it reads.
With --json, prints only the metadata, as JSON.`,
  inspect: `Usage: m2m-token inspect <token|-> [--json]

Decodes a JWT access token's header and claims and shows the time to expiry. The signature is NOT
verified: do not trust what this prints for authorization decisions. With --json, prints
{ verified: false, header, claims, expires_at, expires_in }.`,
  doctor: `Usage: m2m-token doctor [options] [--json] [--verbose]

Checks the configuration the token command would use, in order, one line per check
(✓ passed, ! warning, ✗ failed, with the likely cause and fix):
  endpoint               reachable, TLS certificate trusted
  discovery              with --issuer: metadata found, its issuer equal to --issuer
  client authentication  the method is among the server's token_endpoint_auth_methods_supported
  token request          a token is issued (else the OAuth error and what it usually means)
  token lifetime         expires_in, the JWT's exp, and the client's refresh schedule
  clock                  the server's Date header against this machine's clock
  scope                  requested against granted
  revocation endpoint    known (for revoke)
  proxy                  HTTPS_PROXY / HTTP_PROXY / NO_PROXY in the environment
Checks that depend on a failed one are not run. Exit 0 when none failed (warnings allowed), else 1.
With --json, prints the checks as a JSON array of { check, status, message, hint }.

${CLIENT_HELP}`,
};

/** What every command gets: the flags it was run with, and the outside world. */
interface Run {
  readonly io: Io;
  readonly json: boolean;
  /** Reports an HTTP exchange on standard error (with --verbose), else undefined. */
  readonly trace: ((exchange: TraceExchange) => void) | undefined;
}

function newClient(options: ClientCredentialsOptions, run: Run): ClientCredentialsClient {
  // With mutual TLS the library sends with its own fetch (which presents the certificate): not traced.
  const fetch = run.trace === undefined || options.tls !== undefined ? undefined : traceFetch(globalThis.fetch, run.trace);
  try {
    return new ClientCredentialsClient({ ...options, fetch });
  } catch (error) {
    if (error instanceof TypeError) throw new UsageError(flagMessage(error.message));
    throw error;
  }
}

function tokenArgument(value: string, io: Io): string {
  const token = value === '-' ? io.stdin().trim() : value;
  if (!token) throw new UsageError('the token is empty');
  return token;
}

function formatDuration(ms: number): string {
  const s = Math.round(Math.abs(ms) / 1000);
  const text =
    s >= 3600 ? `${Math.floor(s / 3600)}h ${Math.floor((s % 3600) / 60)}m` : s >= 60 ? `${Math.floor(s / 60)}m ${s % 60}s` : `${s}s`;
  return ms < 0 ? `expired ${text} ago` : `expires in ${text}`;
}

function decodeSegment(segment: string | undefined, what: string): Record<string, unknown> {
  try {
    const value: unknown = JSON.parse(Buffer.from(segment ?? '', 'base64url').toString('utf8'));
    if (typeof value === 'object' && value !== null && !Array.isArray(value)) return value as Record<string, unknown>;
  } catch {
    // reported below
  }
  throw new UsageError(`not a JWT: the ${what} is not a base64url JSON object (opaque tokens cannot be inspected)`);
}

const json = (value: unknown) => JSON.stringify(value, null, 2);

// biome-ignore lint/suspicious/noConfusingVoidType: a command returns an exit code, or nothing for 0.
const commands: Record<string, (args: string[], run: Run) => Promise<number | void>> = {
  async token(args, run) {
    const { io } = run;
    const { values } = parse(args, CLIENT_FLAGS, 0);
    if (values.help) return io.out(HELP.token!);
    const client = newClient(clientOptions(values, io), run);
    try {
      const token = await client.getToken();
      if (!run.json) return io.out(token.accessToken);
      io.out(
        json({
          access_token: token.accessToken,
          token_type: token.tokenType,
          expires_at: new Date(token.expiresAt).toISOString(),
          expires_in: Math.round((token.expiresAt - io.now()) / 1000),
          scope: token.scope,
          ...token.extra,
        }),
      );
    } finally {
      await client.close();
    }
  },

  async revoke(args, run) {
    const { io } = run;
    const { values, positionals } = parse(args, CLIENT_FLAGS, 1);
    if (values.help) return io.out(HELP.revoke!);
    const token = tokenArgument(positionals[0]!, io);
    const client = newClient(clientOptions(values, io), run);
    try {
      await client.revoke(token);
      if (run.json) io.out(JSON.stringify({ revoked: true }));
      else io.err('revoked');
    } finally {
      await client.close();
    }
  },

  async discover(args, run) {
    const { io } = run;
    const { values, positionals } = parse(args, { ...COMMON_FLAGS, 'allow-insecure-http': { type: 'boolean' } }, 1);
    if (values.help) return io.out(HELP.discover!);
    const client = newClient(
      { issuer: positionals[0]!, clientId: 'm2m-token-cli', allowInsecureHttp: values['allow-insecure-http'] === true },
      run,
    );
    try {
      const metadata = await client.metadata();
      if (run.json) return io.out(json(metadata));
      io.out(`issuer:               ${metadata.issuer}`);
      io.out(`token endpoint:       ${metadata.token_endpoint ?? '(none)'}`);
      io.out(`revocation endpoint:  ${metadata.revocation_endpoint ?? '(none)'}`);
      io.out(`client auth methods:  ${metadata.token_endpoint_auth_methods_supported?.join(', ') ?? '(not listed)'}`);
      io.out(json(metadata));
    } finally {
      await client.close();
    }
  },

  async inspect(args, run) {
    const { io } = run;
    const { values, positionals } = parse(args, COMMON_FLAGS, 1);
    if (values.help) return io.out(HELP.inspect!);
    const parts = tokenArgument(positionals[0]!, io).split('.');
    if (parts.length !== 3) throw new UsageError('not a JWT: expected three dot-separated parts (opaque tokens cannot be inspected)');
    const header = decodeSegment(parts[0], 'header');
    const claims = decodeSegment(parts[1], 'payload');
    const exp = typeof claims.exp === 'number' ? claims.exp * 1000 : undefined;
    if (run.json) {
      return io.out(
        json({
          verified: false,
          header,
          claims,
          expires_at: exp === undefined ? null : new Date(exp).toISOString(),
          expires_in: exp === undefined ? null : Math.round((exp - io.now()) / 1000),
        }),
      );
    }
    io.out('NOT VERIFIED: the signature was not checked; do not rely on these claims.');
    io.out(json({ header, claims }));
    if (exp !== undefined) io.out(`${formatDuration(exp - io.now())} (${new Date(exp).toISOString()})`);
    else io.out('no exp claim');
  },

  async doctor(args, run) {
    const { io } = run;
    const { values } = parse(args, CLIENT_FLAGS, 0);
    if (values.help) return io.out(HELP.doctor!);
    const options = clientOptions(values, io);
    // biome-ignore lint/suspicious/noImplicitAnyLet: typed by the assignment in the try block below.
    let checks;
    try {
      checks = await runDoctor({
        options,
        env: io.env,
        now: io.now,
        onExchange: run.trace,
        onCheck: (check) => {
          if (!run.json) io.out(formatCheck(check));
        },
      });
    } catch (error) {
      if (error instanceof TypeError) throw new UsageError(flagMessage(error.message));
      throw error;
    }
    if (run.json) io.out(json(checks));
    return checks.some((check) => check.status === 'fail') ? EXIT_FAILED : 0;
  },
};

/**
 * The package version, from the package.json next to the build output (`dist/../package.json`). The
 * command runs only as the CommonJS build (`dist/cli.cjs`), where `__dirname` is its directory: no
 * `import.meta` shim then goes into every entry of the build.
 */
function version(): string {
  try {
    const manifest = JSON.parse(readFileSync(join(__dirname, '..', 'package.json'), 'utf8')) as { name?: unknown; version?: unknown };
    if (manifest.name === 'm2m-token' && typeof manifest.version === 'string') return manifest.version;
  } catch {
    // reported below
  }
  return 'unknown';
}

/** An error as the `--json` error object: `{ error: { code, message, … } }`. */
function errorJson(code: string, message: string, error?: unknown): string {
  const extra =
    error instanceof OAuthError
      ? { oauth_error: error.error, status: error.status }
      : TokenError.is(error) && error.status !== undefined
        ? { status: error.status }
        : {};
  return JSON.stringify({ error: { code, message, ...extra } });
}

/** Runs the CLI with `argv` (without node and script); returns the exit code. */
async function main(argv: string[], io: Io): Promise<number> {
  const [command, ...args] = argv;
  if (command === '--version' || command === '-V') {
    io.out(version());
    return 0;
  }
  if (command === undefined || command === '--help' || command === '-h' || command === 'help') {
    (command === undefined ? io.err : io.out)(HELP.main!);
    return command === undefined ? EXIT_USAGE : 0;
  }
  // Flags are parsed per command; these two change how everything (errors included) is reported.
  const asJson = args.includes('--json');
  const verbose = args.includes('--verbose') || args.includes('-v');
  const run: Run = {
    io,
    json: asJson,
    trace: verbose ? (exchange) => io.err(asJson ? JSON.stringify({ exchange }) : formatExchange(exchange)) : undefined,
  };
  // Own commands only: `constructor` or `__proto__` must not find Object.prototype members.
  const command_ = Object.hasOwn(commands, command) ? commands[command] : undefined;
  if (command_ === undefined) {
    if (asJson) io.err(errorJson('USAGE', `unknown command "${command}"`));
    else io.err(`m2m-token: unknown command "${command}"\n\n${HELP.main}`);
    return EXIT_USAGE;
  }
  try {
    const code = await command_(args, run);
    return typeof code === 'number' ? code : 0;
  } catch (error) {
    if (error instanceof UsageError) {
      if (asJson) io.err(errorJson('USAGE', error.message));
      else io.err(`m2m-token ${command}: ${error.message}\nRun "m2m-token ${command} --help" for usage.`);
      return EXIT_USAGE;
    }
    if (TokenError.is(error)) {
      if (asJson) io.err(errorJson(error.code, error.message, error));
      else io.err(`m2m-token ${command}: ${error.code}: ${error.message}`);
      return EXIT_FAILED;
    }
    const message = (error as Error)?.message ?? String(error);
    if (asJson) io.err(errorJson('ERROR', message));
    else io.err(`m2m-token ${command}: ${message}`);
    return EXIT_FAILED;
  }
}

const io: Io = {
  out: (text) => {
    process.stdout.write(`${text}\n`);
  },
  err: (text) => {
    process.stderr.write(`${text}\n`);
  },
  env: process.env,
  stdin: () => readFileSync(0, 'utf8'),
  now: () => Date.now(),
};

main(process.argv.slice(2), io).then((code) => {
  process.exitCode = code;
});
