/**
 * The client flags of the `m2m-token` command, their `M2M_*` environment variables, and the mapping of
 * library option names to flag names in error messages.
 * @module
 */
import { readFileSync } from 'node:fs';
import { parseArgs, type ParseArgsConfig } from 'node:util';
import type { ClientAuthMethod, ClientCredentialsOptions } from '../options.js';

/** A mistake in the command line or the environment: exit code 2. */
export class UsageError extends Error {}

/** What the commands need from the outside world (injectable for tests). */
export interface Io {
  readonly out: (text: string) => void;
  readonly err: (text: string) => void;
  readonly env: NodeJS.ProcessEnv;
  readonly stdin: () => string;
  readonly now: () => number;
}

/** Flags every command takes. */
export const COMMON_FLAGS = {
  json: { type: 'boolean' },
  verbose: { type: 'boolean', short: 'v' },
  help: { type: 'boolean', short: 'h' },
} as const satisfies ParseArgsConfig['options'];

/** Flags of the commands that build a client (token, revoke, doctor). */
export const CLIENT_FLAGS = {
  ...COMMON_FLAGS,
  'token-endpoint': { type: 'string' },
  issuer: { type: 'string' },
  'revocation-endpoint': { type: 'string' },
  'client-id': { type: 'string' },
  'client-auth': { type: 'string' },
  'client-secret-stdin': { type: 'boolean' },
  'client-secret': { type: 'string' },
  'private-key-file': { type: 'string' },
  'key-id': { type: 'string' },
  alg: { type: 'string' },
  'cert-file': { type: 'string' },
  'key-file': { type: 'string' },
  'ca-file': { type: 'string' },
  scope: { type: 'string', multiple: true },
  audience: { type: 'string' },
  resource: { type: 'string', multiple: true },
  timeout: { type: 'string' },
  'allow-insecure-http': { type: 'boolean' },
} as const satisfies ParseArgsConfig['options'];

/** The help text of {@link CLIENT_FLAGS}. */
export const CLIENT_HELP = `Client options (each also read from the environment variable shown; an empty variable is unset):
  --token-endpoint URL        M2M_TOKEN_ENDPOINT   token endpoint
  --issuer URL                M2M_ISSUER           issuer, for discovery (instead of --token-endpoint)
  --revocation-endpoint URL   M2M_REVOCATION_ENDPOINT
  --client-id ID              M2M_CLIENT_ID
  --client-auth METHOD        M2M_CLIENT_AUTH      client_secret_basic (default with a secret),
                                                   client_secret_post, client_secret_jwt,
                                                   private_key_jwt (default with a private key),
                                                   tls_client_auth (default with a certificate),
                                                   self_signed_tls_client_auth or none
  --client-secret-stdin                            read the client secret from standard input
                              M2M_CLIENT_SECRET    the client secret (never accepted as a flag value:
                                                   it would show in \`ps\` and shell history)
  --private-key-file PATH     M2M_PRIVATE_KEY_FILE private_key_jwt signing key: PEM or JWK (JSON)
  --key-id KID                M2M_KEY_ID           \`kid\` of the client assertions (default: the JWK's)
  --alg ALG                   M2M_ALG              assertion algorithm (default: from the key)
  --cert-file PATH            M2M_CERT_FILE        mutual TLS client certificate, PEM (needs undici)
  --key-file PATH             M2M_KEY_FILE         its private key, PEM
  --ca-file PATH              M2M_CA_FILE          CAs to trust for the server with mutual TLS, PEM
                                                   (without mutual TLS use NODE_EXTRA_CA_CERTS)
  --scope SCOPE               M2M_SCOPE            repeatable, or space-separated
  --audience AUDIENCE         M2M_AUDIENCE
  --resource URI              M2M_RESOURCE         repeatable (space-separated in the environment)
  --timeout MS                M2M_TIMEOUT          per attempt (default 10000)
  --allow-insecure-http                            allow http: on non-loopback hosts
Output options:
  --json                                           JSON on standard output; errors as JSON on standard error
  -v, --verbose                                    print each HTTP exchange to standard error, secrets
                                                   redacted (not with mutual TLS: those are not traced)
  -h, --help`;

/** Parses a command's arguments; `positionals` is how many arguments it takes. */
export function parse<T extends ParseArgsConfig['options']>(args: string[], options: T, positionals: number) {
  // A token may start with '-' (base64url): the only short options are -h and -v, so any other
  // single-dash argument is a positional, passed after '--' (unless the caller already used '--').
  const short = new Set(['-h', '-v']);
  const dashed = args.includes('--') ? [] : args.filter((a) => a.length > 1 && a.startsWith('-') && !a.startsWith('--') && !short.has(a));
  const argv = dashed.length === 0 ? args : [...args.filter((a) => !dashed.includes(a)), '--', ...dashed];
  // biome-ignore lint/suspicious/noImplicitAnyLet: typed by parseArgs' options, in the try block below.
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

/** An environment variable; empty counts as unset. */
export function envVar(env: NodeJS.ProcessEnv, name: string): string | undefined {
  const value = env[name];
  return value === undefined || value === '' ? undefined : value;
}

function readFlagFile(flag: string, path: string): string {
  try {
    return readFileSync(path, 'utf8');
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    throw new UsageError(`${flag}: cannot read ${path}${code ? ` (${code})` : ''}`);
  }
}

/** A PEM key as is, or a JWK parsed from JSON. */
function privateKeyFrom(text: string): string | Record<string, unknown> {
  const trimmed = text.trim();
  if (!trimmed.startsWith('{')) return text;
  try {
    return JSON.parse(trimmed) as Record<string, unknown>;
  } catch {
    throw new UsageError('--private-key-file: the file starts with "{" but is not valid JSON (expected a PEM key or a JWK)');
  }
}

/** The library options the client flags and `M2M_*` variables describe. */
export function clientOptions(values: Record<string, unknown>, io: Io): ClientCredentialsOptions {
  if (values['client-secret'] !== undefined) {
    throw new UsageError('--client-secret is not accepted: pass the secret in M2M_CLIENT_SECRET or with --client-secret-stdin');
  }
  const env = (name: string) => envVar(io.env, name);
  const flag = (name: string, variable?: string) =>
    (values[name] as string | undefined) ?? (variable === undefined ? undefined : env(variable));
  const list = (name: string, variable: string) => (values[name] as string[] | undefined) ?? env(variable)?.split(' ').filter(Boolean);
  const clientId = flag('client-id', 'M2M_CLIENT_ID');
  if (!clientId) throw new UsageError('missing client id: --client-id or M2M_CLIENT_ID');
  const tokenEndpoint = flag('token-endpoint', 'M2M_TOKEN_ENDPOINT');
  const issuer = flag('issuer', 'M2M_ISSUER');
  if (!tokenEndpoint && !issuer) throw new UsageError('missing endpoint: --token-endpoint / M2M_TOKEN_ENDPOINT or --issuer / M2M_ISSUER');
  const clientSecret = values['client-secret-stdin'] ? io.stdin().replace(/\r?\n$/, '') || undefined : env('M2M_CLIENT_SECRET');
  if (values['client-secret-stdin'] && clientSecret === undefined) throw new UsageError('--client-secret-stdin: standard input is empty');

  const keyFile = flag('private-key-file', 'M2M_PRIVATE_KEY_FILE');
  const kid = flag('key-id', 'M2M_KEY_ID');
  const alg = flag('alg', 'M2M_ALG');
  const certFile = flag('cert-file', 'M2M_CERT_FILE');
  const tlsKeyFile = flag('key-file', 'M2M_KEY_FILE');
  const caFile = flag('ca-file', 'M2M_CA_FILE');
  if ((certFile === undefined) !== (tlsKeyFile === undefined)) throw new UsageError('mutual TLS needs both --cert-file and --key-file');
  if (caFile !== undefined && certFile === undefined) {
    throw new UsageError(
      '--ca-file applies to mutual TLS (with --cert-file and --key-file); otherwise trust a CA with NODE_EXTRA_CA_CERTS=<file>',
    );
  }

  const timeout = flag('timeout', 'M2M_TIMEOUT');
  if (timeout !== undefined && !/^\d+$/.test(timeout)) throw new UsageError('--timeout must be a positive integer (milliseconds)');
  return {
    tokenEndpoint,
    issuer,
    revocationEndpoint: flag('revocation-endpoint', 'M2M_REVOCATION_ENDPOINT'),
    clientId,
    ...(clientSecret !== undefined && { clientSecret }),
    ...(keyFile !== undefined && { privateKey: privateKeyFrom(readFlagFile('--private-key-file', keyFile)) }),
    clientAssertion: kid === undefined && alg === undefined ? undefined : { kid, alg },
    tls:
      certFile === undefined || tlsKeyFile === undefined
        ? undefined
        : {
            cert: readFlagFile('--cert-file', certFile),
            key: readFlagFile('--key-file', tlsKeyFile),
            ca: caFile === undefined ? undefined : readFlagFile('--ca-file', caFile),
          },
    clientAuth: flag('client-auth', 'M2M_CLIENT_AUTH') as ClientAuthMethod | undefined,
    scope: list('scope', 'M2M_SCOPE'),
    audience: flag('audience', 'M2M_AUDIENCE'),
    resource: list('resource', 'M2M_RESOURCE'),
    timeout: timeout === undefined ? undefined : Number(timeout),
    allowInsecureHttp: values['allow-insecure-http'] === true,
  };
}

/** Library option names (as in its `TypeError` messages) and the flag or variable that sets each. */
const FLAG_OF: Readonly<Record<string, string>> = {
  tokenEndpoint: '--token-endpoint',
  issuer: '--issuer',
  revocationEndpoint: '--revocation-endpoint',
  clientId: '--client-id',
  clientSecret: 'M2M_CLIENT_SECRET (or --client-secret-stdin)',
  clientAuth: '--client-auth',
  privateKey: '--private-key-file',
  clientAssertion: '--key-id / --alg',
  'clientAssertion.alg': '--alg',
  'clientAssertion.kid': '--key-id',
  tls: '--cert-file and --key-file',
  'tls.cert': '--cert-file',
  'tls.key': '--key-file',
  'tls.ca': '--ca-file',
  'tls.passphrase': '--key-file',
  scope: '--scope',
  audience: '--audience',
  resource: '--resource',
  timeout: '--timeout',
  allowInsecureHttp: '--allow-insecure-http',
  'allowInsecureHttp: true': '--allow-insecure-http',
};

/**
 * Rewrites a library `TypeError` message ("m2m-token: option `clientId` must be …") in terms of the
 * command line ("--client-id must be …").
 */
export function flagMessage(message: string): string {
  return message
    .replace(/^m2m-token: (option )?/, '')
    .replace(/`([^`]+)`/g, (whole, name: string) => FLAG_OF[name] ?? whole)
    .replace(/\bfor clientAuth\b/g, 'for --client-auth')
    .replace(/^algorithm (\S+) does not fit/, '--alg $1 does not fit');
}
