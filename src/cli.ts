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
import { parseArgs, type ParseArgsConfig } from 'node:util';
import { ClientCredentialsClient } from './client.js';
import { TokenError } from './errors.js';
import type { ClientAuthMethod, ClientCredentialsOptions } from './options.js';

/** Exit codes: 0 success, 1 the operation failed (server, network, token), 2 usage error. */
const EXIT_FAILED = 1;
const EXIT_USAGE = 2;

class UsageError extends Error {}

const CLIENT_FLAGS = {
  'token-endpoint': { type: 'string' },
  issuer: { type: 'string' },
  'revocation-endpoint': { type: 'string' },
  'client-id': { type: 'string' },
  'client-auth': { type: 'string' },
  'client-secret-stdin': { type: 'boolean' },
  'client-secret': { type: 'string' },
  scope: { type: 'string', multiple: true },
  audience: { type: 'string' },
  resource: { type: 'string', multiple: true },
  timeout: { type: 'string' },
  'allow-insecure-http': { type: 'boolean' },
  help: { type: 'boolean', short: 'h' },
} as const satisfies ParseArgsConfig['options'];

const CLIENT_HELP = `Client options (each also read from the environment variable shown):
  --token-endpoint URL        M2M_TOKEN_ENDPOINT   token endpoint
  --issuer URL                M2M_ISSUER           issuer, for discovery (instead of --token-endpoint)
  --revocation-endpoint URL   M2M_REVOCATION_ENDPOINT
  --client-id ID              M2M_CLIENT_ID
  --client-auth METHOD        M2M_CLIENT_AUTH      client_secret_basic (default with a secret),
                                                   client_secret_post or none
  --client-secret-stdin                            read the client secret from standard input
                              M2M_CLIENT_SECRET    the client secret (never accepted as a flag value:
                                                   it would show in \`ps\` and shell history)
  --scope SCOPE               M2M_SCOPE            repeatable, or space-separated
  --audience AUDIENCE         M2M_AUDIENCE
  --resource URI              M2M_RESOURCE         repeatable (space-separated in the environment)
  --timeout MS                                     per attempt (default 10000)
  --allow-insecure-http                            allow http: on non-loopback hosts
  -h, --help`;

const HELP: Record<string, string> = {
  main: `Usage: m2m-token <command> [options]

OAuth 2.0 client credentials tokens from the command line.

Commands:
  token              print an access token (--json: the whole token response)
  revoke <token>     revoke a token (RFC 7009); "-" reads it from standard input
  discover <issuer>  show the authorization server metadata the client would use
  inspect <token>    decode a JWT access token (without verifying it); "-" reads standard input

Run "m2m-token <command> --help" for a command's options.
Exit codes: 0 success, 1 the operation failed, 2 usage error.`,
  token: `Usage: m2m-token token [options] [--json]

Prints an access token, for example:
  curl -H "Authorization: Bearer $(m2m-token token)" https://api.example.com/

  --json   print the token response as JSON (access token included)

${CLIENT_HELP}`,
  revoke: `Usage: m2m-token revoke <token|-> [options]

Revokes the token at the revocation endpoint (from --revocation-endpoint or the issuer's metadata).

${CLIENT_HELP}`,
  discover: `Usage: m2m-token discover <issuer> [--allow-insecure-http]

Fetches the issuer's metadata (RFC 8414, then OpenID Connect Discovery), checks that it belongs to
the issuer, and prints the endpoints the client would use and, as JSON, the metadata members it reads.`,
  inspect: `Usage: m2m-token inspect <token|->

Decodes a JWT access token's header and claims and shows the time to expiry. The signature is NOT
verified: do not trust what this prints for authorization decisions.`,
};

interface Io {
  readonly out: (text: string) => void;
  readonly err: (text: string) => void;
  readonly env: NodeJS.ProcessEnv;
  readonly stdin: () => string;
  readonly now: () => number;
}

function parse<T extends ParseArgsConfig['options']>(args: string[], options: T, positionals: number) {
  // A token may start with '-' (base64url): the only short option is -h, so any other single-dash
  // argument is a positional, passed after '--' (unless the caller already used '--').
  const dashed = args.includes('--') ? [] : args.filter((a) => a.length > 1 && a.startsWith('-') && !a.startsWith('--') && a !== '-h');
  const argv = dashed.length === 0 ? args : [...args.filter((a) => !dashed.includes(a)), '--', ...dashed];
  let parsed;
  try {
    parsed = parseArgs({ args: argv, options, allowPositionals: true, strict: true });
  } catch (error) {
    throw new UsageError((error as Error).message);
  }
  if (!(parsed.values as { help?: boolean }).help && parsed.positionals.length !== positionals) {
    throw new UsageError(positionals === 0 ? 'this command takes no arguments' : `expected ${positionals} argument(s)`);
  }
  return parsed;
}

function clientOptions(values: Record<string, unknown>, io: Io): ClientCredentialsOptions {
  if (values['client-secret'] !== undefined) {
    throw new UsageError('--client-secret is not accepted: pass the secret in M2M_CLIENT_SECRET or with --client-secret-stdin');
  }
  const env = io.env;
  const flag = (name: string) => values[name] as string | undefined;
  const list = (name: string, variable: string) =>
    (values[name] as string[] | undefined) ?? env[variable]?.split(' ').filter(Boolean);
  const clientId = flag('client-id') ?? env.M2M_CLIENT_ID;
  if (!clientId) throw new UsageError('missing client id: --client-id or M2M_CLIENT_ID');
  const tokenEndpoint = flag('token-endpoint') ?? env.M2M_TOKEN_ENDPOINT;
  const issuer = flag('issuer') ?? env.M2M_ISSUER;
  if (!tokenEndpoint && !issuer) throw new UsageError('missing endpoint: --token-endpoint / M2M_TOKEN_ENDPOINT or --issuer / M2M_ISSUER');
  const clientSecret = values['client-secret-stdin'] ? io.stdin().replace(/\r?\n$/, '') : env.M2M_CLIENT_SECRET || undefined;
  const timeout = flag('timeout');
  return {
    tokenEndpoint,
    issuer,
    revocationEndpoint: flag('revocation-endpoint') ?? env.M2M_REVOCATION_ENDPOINT,
    clientId,
    ...(clientSecret !== undefined && { clientSecret }),
    clientAuth: (flag('client-auth') ?? env.M2M_CLIENT_AUTH) as ClientAuthMethod | undefined,
    scope: list('scope', 'M2M_SCOPE'),
    audience: flag('audience') ?? env.M2M_AUDIENCE,
    resource: list('resource', 'M2M_RESOURCE'),
    timeout: timeout === undefined ? undefined : Number(timeout),
    allowInsecureHttp: values['allow-insecure-http'] === true,
  };
}

function newClient(options: ClientCredentialsOptions): ClientCredentialsClient {
  try {
    return new ClientCredentialsClient(options);
  } catch (error) {
    throw new UsageError((error as Error).message);
  }
}

function tokenArgument(value: string, io: Io): string {
  const token = value === '-' ? io.stdin().trim() : value;
  if (!token) throw new UsageError('the token is empty');
  return token;
}

function formatDuration(ms: number): string {
  const s = Math.round(Math.abs(ms) / 1000);
  const text = s >= 3600 ? `${Math.floor(s / 3600)}h ${Math.floor((s % 3600) / 60)}m` : s >= 60 ? `${Math.floor(s / 60)}m ${s % 60}s` : `${s}s`;
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

const commands: Record<string, (args: string[], io: Io) => Promise<void>> = {
  async token(args, io) {
    const { values } = parse(args, { ...CLIENT_FLAGS, json: { type: 'boolean' } }, 0);
    if (values.help) return io.out(HELP.token!);
    const client = newClient(clientOptions(values, io));
    try {
      const token = await client.getToken();
      if (!values.json) return io.out(token.accessToken);
      io.out(
        JSON.stringify(
          {
            access_token: token.accessToken,
            token_type: token.tokenType,
            expires_at: new Date(token.expiresAt).toISOString(),
            expires_in: Math.round((token.expiresAt - io.now()) / 1000),
            scope: token.scope,
            ...token.extra,
          },
          null,
          2,
        ),
      );
    } finally {
      await client.close();
    }
  },

  async revoke(args, io) {
    const { values, positionals } = parse(args, CLIENT_FLAGS, 1);
    if (values.help) return io.out(HELP.revoke!);
    const token = tokenArgument(positionals[0]!, io);
    const client = newClient(clientOptions(values, io));
    try {
      await client.revoke(token);
      io.err('revoked');
    } finally {
      await client.close();
    }
  },

  async discover(args, io) {
    const { values, positionals } = parse(
      args,
      { 'allow-insecure-http': { type: 'boolean' }, help: { type: 'boolean', short: 'h' } },
      1,
    );
    if (values.help) return io.out(HELP.discover!);
    const client = newClient({ issuer: positionals[0]!, clientId: 'm2m-token-cli', allowInsecureHttp: values['allow-insecure-http'] === true });
    try {
      const metadata = await client.metadata();
      io.out(`issuer:               ${metadata.issuer}`);
      io.out(`token endpoint:       ${metadata.token_endpoint ?? '(none)'}`);
      io.out(`revocation endpoint:  ${metadata.revocation_endpoint ?? '(none)'}`);
      io.out(`client auth methods:  ${metadata.token_endpoint_auth_methods_supported?.join(', ') ?? '(not listed)'}`);
      io.out(JSON.stringify(metadata, null, 2));
    } finally {
      await client.close();
    }
  },

  async inspect(args, io) {
    const { values, positionals } = parse(args, { help: { type: 'boolean', short: 'h' } }, 1);
    if (values.help) return io.out(HELP.inspect!);
    const parts = tokenArgument(positionals[0]!, io).split('.');
    if (parts.length !== 3) throw new UsageError('not a JWT: expected three dot-separated parts (opaque tokens cannot be inspected)');
    const header = decodeSegment(parts[0], 'header');
    const claims = decodeSegment(parts[1], 'payload');
    io.out('NOT VERIFIED: the signature was not checked; do not rely on these claims.');
    io.out(JSON.stringify({ header, claims }, null, 2));
    if (typeof claims.exp === 'number') io.out(`${formatDuration(claims.exp * 1000 - io.now())} (${new Date(claims.exp * 1000).toISOString()})`);
    else io.out('no exp claim');
  },
};

/** Runs the CLI with `argv` (without node and script); returns the exit code. */
async function main(argv: string[], io: Io): Promise<number> {
  const [command, ...args] = argv;
  if (command === undefined || command === '--help' || command === '-h' || command === 'help') {
    (command === undefined ? io.err : io.out)(HELP.main!);
    return command === undefined ? EXIT_USAGE : 0;
  }
  // Own commands only: `constructor` or `__proto__` must not find Object.prototype members.
  const run = Object.hasOwn(commands, command) ? commands[command] : undefined;
  if (run === undefined) {
    io.err(`m2m-token: unknown command "${command}"\n\n${HELP.main}`);
    return EXIT_USAGE;
  }
  try {
    await run(args, io);
    return 0;
  } catch (error) {
    if (error instanceof UsageError) {
      io.err(`m2m-token ${command}: ${error.message}\nRun "m2m-token ${command} --help" for usage.`);
      return EXIT_USAGE;
    }
    if (TokenError.is(error)) {
      io.err(`m2m-token ${command}: ${error.code}: ${error.message}`);
      return EXIT_FAILED;
    }
    io.err(`m2m-token ${command}: ${(error as Error)?.message ?? String(error)}`);
    return EXIT_FAILED;
  }
}

const io: Io = {
  out: (text) => process.stdout.write(`${text}\n`),
  err: (text) => process.stderr.write(`${text}\n`),
  env: process.env,
  stdin: () => readFileSync(0, 'utf8'),
  now: () => Date.now(),
};

main(process.argv.slice(2), io).then((code) => {
  process.exitCode = code;
});
