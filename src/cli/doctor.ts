/**
 * `m2m-token doctor`: checks a client configuration step by step against the authorization server and
 * says, for each failure, the most likely cause and fix. Never prints a secret or a token.
 * @module
 */
import { ClientCredentialsClient } from '../client.js';
import { OAuthError, TokenError } from '../errors.js';
import { type ClientAuthMethod, type ClientCredentialsOptions, defaults } from '../options.js';
import { type TraceExchange, traceFetch } from '../trace.js';
import { probe, probeHint } from './probe.js';

/** The outcome of one check: `pass` (✓), `warn` (!, does not fail the run) or `fail` (✗). */
export interface DoctorCheck {
  readonly check: string;
  readonly status: 'pass' | 'warn' | 'fail';
  /** What the check saw. */
  readonly message: string;
  /** The likely cause and fix, for `warn` and `fail`. */
  readonly hint?: string;
}

/** Clock differences above this many seconds are reported. */
export const MAX_SKEW_SECONDS = 30;

const SYMBOL = { pass: '✓', warn: '!', fail: '✗' } as const;

/** One line per check: `✓ name: what it saw`, `✗ name: what it saw → cause and fix`. */
export function formatCheck(check: DoctorCheck): string {
  return `${SYMBOL[check.status]} ${check.check}: ${check.message}${check.hint ? ` → ${check.hint}` : ''}`;
}

/** How the run went so far, handed from check to check. */
interface Context {
  readonly options: ClientCredentialsOptions;
  readonly method: ClientAuthMethod;
  readonly exchanges: { exchange: TraceExchange; at: number }[];
  metadata?: Record<string, unknown>;
}

function methodOf(options: ClientCredentialsOptions): ClientAuthMethod {
  return (
    options.clientAuth ??
    (options.clientSecret !== undefined
      ? 'client_secret_basic'
      : options.privateKey !== undefined
        ? 'private_key_jwt'
        : options.tls !== undefined
          ? 'tls_client_auth'
          : 'none')
  );
}

function seconds(ms: number): string {
  const s = Math.round(ms / 1000);
  return s >= 60 ? `${Math.floor(s / 60)}m ${s % 60}s` : `${s}s`;
}

/** The metadata URLs of an issuer: RFC 8414 §3.1 first, then OpenID Connect Discovery 1.0 §4. */
function metadataUrls(issuer: string): URL[] {
  const url = new URL(issuer);
  const path = url.pathname === '/' ? '' : url.pathname.replace(/\/$/, '');
  return [
    new URL(`/.well-known/oauth-authorization-server${path}`, url.origin),
    new URL(`${url.origin}${path}/.well-known/openid-configuration`),
  ];
}

async function checkDiscovery(ctx: Context, fetch: typeof globalThis.fetch, issuer: string): Promise<DoctorCheck> {
  const check = 'discovery';
  const tried: string[] = [];
  for (const url of metadataUrls(issuer)) {
    tried.push(url.href);
    let response: Response;
    try {
      response = await fetch(url, {
        headers: { accept: 'application/json' },
        signal: AbortSignal.timeout(ctx.options.timeout ?? defaults.timeout),
      });
    } catch (error) {
      return {
        check,
        status: 'fail',
        message: `${url.href} failed: ${(error as Error).message}`,
        hint: 'the issuer URL is not reachable as an HTTP server',
      };
    }
    if (response.status === 404) {
      await response.body?.cancel();
      continue;
    }
    let body: unknown;
    try {
      body = await response.json();
    } catch {
      body = undefined;
    }
    if (!response.ok || typeof body !== 'object' || body === null || Array.isArray(body)) {
      return {
        check,
        status: 'fail',
        message: `${url.href} answered HTTP ${response.status} without a JSON metadata document`,
        hint: 'check the issuer URL (a tenant or realm path missing?)',
      };
    }
    const metadata = body as Record<string, unknown>;
    if (metadata.issuer !== issuer) {
      return {
        check,
        status: 'fail',
        message: `metadata at ${url.href} names issuer ${JSON.stringify(metadata.issuer)}, not ${JSON.stringify(issuer)}`,
        hint:
          typeof metadata.issuer === 'string'
            ? `set --issuer ${metadata.issuer} (issuers are compared exactly: host name, port, path and trailing slash)`
            : 'the document is not authorization server metadata: check the issuer URL',
      };
    }
    if (typeof metadata.token_endpoint !== 'string') {
      return {
        check,
        status: 'fail',
        message: `metadata at ${url.href} has no token_endpoint`,
        hint: 'the server does not offer a token endpoint here: use --token-endpoint',
      };
    }
    ctx.metadata = metadata;
    return { check, status: 'pass', message: `${url.href}: issuer matches, token endpoint ${metadata.token_endpoint}` };
  }
  return {
    check,
    status: 'fail',
    message: `no metadata at ${tried.join(' or ')} (HTTP 404)`,
    hint: 'check the issuer URL (a tenant or realm path missing?), or use --token-endpoint without --issuer',
  };
}

/** Methods a client can use with what it was configured with. */
function usableMethods(options: ClientCredentialsOptions): ClientAuthMethod[] {
  if (options.clientSecret !== undefined) return ['client_secret_basic', 'client_secret_post', 'client_secret_jwt'];
  if (options.privateKey !== undefined) return ['private_key_jwt'];
  if (options.tls !== undefined) return ['tls_client_auth', 'self_signed_tls_client_auth'];
  return ['none'];
}

function checkMethod(ctx: Context): DoctorCheck {
  const check = 'client authentication';
  if (ctx.metadata === undefined) {
    return {
      check,
      status: 'warn',
      message: `${ctx.method}; not compared with the server's methods`,
      hint: 'they are known only from discovery: add --issuer to check',
    };
  }
  const listed = ctx.metadata.token_endpoint_auth_methods_supported;
  // RFC 8414 §2: omitted means client_secret_basic only.
  const supported = Array.isArray(listed) ? listed.filter((m): m is string => typeof m === 'string') : ['client_secret_basic'];
  if (supported.includes(ctx.method))
    return { check, status: 'pass', message: `${ctx.method} is supported (server: ${supported.join(', ')})` };
  const alternative = usableMethods(ctx.options).find((m) => supported.includes(m));
  return {
    check,
    status: 'fail',
    message: `${ctx.method} is not among the server's methods (${supported.join(', ')})`,
    hint: alternative
      ? `try --client-auth ${alternative}`
      : `the server accepts none of the methods your credentials allow: register the client for one of ${supported.join(', ')}`,
  };
}

const RESERVED = /[^A-Za-z0-9\-._~]/;

function oauthHint(error: OAuthError, ctx: Context): string {
  const { method, options } = ctx;
  switch (error.error) {
    case 'invalid_client':
      if (method === 'client_secret_basic' && typeof options.clientSecret === 'string' && RESERVED.test(options.clientSecret)) {
        return 'the secret contains characters that client_secret_basic form-encodes (RFC 6749 §2.3.1) and some servers do not decode: try --client-auth client_secret_post; otherwise the secret is wrong, rotated or expired';
      }
      if (method === 'client_secret_basic' || method === 'client_secret_post') {
        const other = method === 'client_secret_basic' ? 'client_secret_post' : 'client_secret_basic';
        return `wrong client id or secret (rotated or expired?), or the client is registered for another method: try --client-auth ${other}`;
      }
      if (method === 'client_secret_jwt')
        return 'wrong secret (rotated?), an --alg the server does not accept for this client, or the client is registered for another method';
      if (method === 'private_key_jwt') {
        return "the server does not know this key (register its public key, check --key-id), refuses the assertion's audience (issuer vs token endpoint) or --alg, or this machine's clock is off";
      }
      if (method === 'none') return 'the client is confidential: give it a secret (M2M_CLIENT_SECRET) or a key';
      return 'the server did not accept the client certificate: is it registered for this client, and does TLS reach the server unterminated (no proxy in between)?';
    case 'unauthorized_client':
      return 'the client may not use the client_credentials grant: enable it for this client at the authorization server';
    case 'invalid_scope':
      return `the client is not allowed (some of) the scope ${JSON.stringify(scopeText(options.scope))}, or the server does not know it: check the client's allowed scopes`;
    case 'invalid_target':
      return 'the server does not know the --resource (or --audience): check it against the API registered at the authorization server';
    case 'invalid_request':
      return 'a parameter is missing or malformed: some servers require --audience or --resource; the error description says which';
    case 'unsupported_grant_type':
      return 'the client_credentials grant is not enabled on this server (or this URL is not its token endpoint)';
    default:
      return 'see the error description and the authorization server logs';
  }
}

function scopeText(scope: ClientCredentialsOptions['scope']): string {
  return scope === undefined ? '' : typeof scope === 'string' ? scope : scope.join(' ');
}

function failureHint(error: unknown, ctx: Context): { message: string; hint: string } {
  if (error instanceof OAuthError) return { message: error.message, hint: oauthHint(error, ctx) };
  if (TokenError.is(error)) {
    const hints: Partial<Record<string, string>> = {
      TIMEOUT: 'the server did not answer in time: raise --timeout, or check the network path',
      NETWORK: 'the request did not get through: see the endpoint check',
      INVALID_RESPONSE: 'the answer is not a token response: is this URL really the token endpoint?',
      CONFIG: 'an optional package is missing or the configuration is incomplete: see the message',
    };
    return { message: `${error.code}: ${error.message}`, hint: hints[error.code] ?? 'see the message' };
  }
  return { message: (error as Error)?.message ?? String(error), hint: 'unexpected error' };
}

function jwtExp(token: string): number | undefined {
  const parts = token.split('.');
  if (parts.length !== 3) return undefined;
  try {
    const claims = JSON.parse(Buffer.from(parts[1]!, 'base64url').toString('utf8')) as { exp?: unknown };
    return typeof claims.exp === 'number' ? claims.exp : undefined;
  } catch {
    return undefined;
  }
}

function lastTokenResponse(ctx: Context, tokenEndpoint: string | undefined): Record<string, unknown> | undefined {
  const found = ctx.exchanges.findLast(
    ({ exchange }) =>
      exchange.method === 'POST' &&
      exchange.status !== undefined &&
      (tokenEndpoint === undefined || exchange.url.startsWith(tokenEndpoint)),
  );
  if (found?.exchange.responseBody === undefined) return undefined;
  try {
    const body = JSON.parse(found.exchange.responseBody) as unknown;
    return typeof body === 'object' && body !== null ? (body as Record<string, unknown>) : undefined;
  } catch {
    return undefined;
  }
}

function checkLifetime(
  token: { accessToken: string; expiresAt: number },
  sentAt: number,
  response: Record<string, unknown> | undefined,
): DoctorCheck {
  const check = 'token lifetime';
  const expiresIn = response?.expires_in;
  // The server's own figure when it sent one; else what the client assumed, dated from the request.
  const lifetime = typeof expiresIn === 'number' ? expiresIn * 1000 : token.expiresAt - sentAt;
  const margin = Math.min(defaults.expiryMargin, lifetime / 10);
  const refreshAfter = (lifetime - margin) * defaults.refreshRatio;
  const schedule = `the client refreshes it after about ${seconds(refreshAfter)} and hands it out for at most ${seconds(lifetime - margin)}`;
  const exp = jwtExp(token.accessToken);
  const expText = exp === undefined ? '' : `, JWT exp ${new Date(exp * 1000).toISOString()}`;
  if (typeof expiresIn !== 'number') {
    return {
      check,
      status: 'warn',
      message: `no expires_in in the response${expText}; ${schedule}`,
      hint: `the client assumes ${seconds(defaults.defaultLifetime)} (defaultLifetime): set it to the server's real token lifetime`,
    };
  }
  const message = `expires_in ${expiresIn} s${expText}; ${schedule}`;
  if (exp !== undefined && Math.abs(exp * 1000 - token.expiresAt) > 60_000) {
    return {
      check,
      status: 'warn',
      message,
      hint: "the JWT's exp and expires_in disagree by more than a minute: the server's clock or its configuration is off",
    };
  }
  if (lifetime < 60_000)
    return {
      check,
      status: 'warn',
      message,
      hint: 'tokens this short-lived mean a token request about every minute: consider a longer lifetime',
    };
  return { check, status: 'pass', message };
}

function checkClock(ctx: Context): DoctorCheck {
  const check = 'clock';
  const dated = ctx.exchanges.findLast(({ exchange }) => exchange.responseHeaders.date !== undefined);
  const serverTime = dated === undefined ? NaN : Date.parse(dated.exchange.responseHeaders.date!);
  if (dated === undefined || Number.isNaN(serverTime)) {
    return {
      check,
      status: 'warn',
      message: 'not measured: no response with a Date header',
      hint: ctx.options.tls ? 'mutual TLS requests are not traced' : 'the server sends no Date header',
    };
  }
  // Date has a resolution of one second.
  const skew = Math.round((serverTime - dated.at) / 1000);
  const message = `server Date ${dated.exchange.responseHeaders.date}, ${skew === 0 ? 'in step with this machine' : `${Math.abs(skew)} s ${skew > 0 ? 'ahead of' : 'behind'} this machine`}`;
  if (Math.abs(skew) > MAX_SKEW_SECONDS) {
    return { check, status: 'warn', message, hint: 'synchronise the clocks (NTP): assertions (iat, exp) and expiry checks depend on them' };
  }
  return { check, status: 'pass', message };
}

function checkScope(ctx: Context, granted: string | undefined): DoctorCheck {
  const check = 'scope';
  const requested = scopeText(ctx.options.scope).split(' ').filter(Boolean);
  if (granted === undefined) {
    return {
      check,
      status: 'pass',
      message:
        requested.length === 0
          ? 'none requested; the server did not say which it granted'
          : `requested ${requested.join(' ')}; the server did not name the granted scope, which then is the requested one (RFC 6749 §5.1)`,
    };
  }
  const grantedList = granted.split(' ').filter(Boolean);
  const missing = requested.filter((s) => !grantedList.includes(s));
  const message = `requested ${requested.length === 0 ? '(none)' : requested.join(' ')}; granted ${grantedList.length === 0 ? '(none)' : grantedList.join(' ')}`;
  if (missing.length > 0) {
    return {
      check,
      status: 'warn',
      message,
      hint: `not granted: ${missing.join(' ')}; the server dropped scopes it does not know or the client may not have: check the client's allowed scopes`,
    };
  }
  return { check, status: 'pass', message };
}

function checkRevocation(ctx: Context): DoctorCheck {
  const check = 'revocation endpoint';
  const configured = ctx.options.revocationEndpoint;
  if (configured !== undefined) return { check, status: 'pass', message: `${String(configured)} (configured)` };
  const discovered = ctx.metadata?.revocation_endpoint;
  if (typeof discovered === 'string') return { check, status: 'pass', message: `${discovered} (from the metadata)` };
  return {
    check,
    status: 'warn',
    message: 'none known',
    hint: 'revoke and close({ revoke: true }) cannot revoke: set --revocation-endpoint, or --issuer if the server publishes one',
  };
}

const PROXY_VARIABLES = ['HTTPS_PROXY', 'https_proxy', 'HTTP_PROXY', 'http_proxy', 'ALL_PROXY', 'all_proxy', 'NO_PROXY', 'no_proxy'];

function checkProxy(env: NodeJS.ProcessEnv): DoctorCheck {
  const check = 'proxy';
  const set = PROXY_VARIABLES.filter((name) => env[name] !== undefined && env[name] !== '');
  if (set.length === 0) return { check, status: 'pass', message: 'no proxy variables set; requests go directly to the server' };
  return {
    check,
    status: 'warn',
    message: `${set.join(', ')} set`,
    hint: "m2m-token does not use a proxy yet (Node's fetch ignores these variables): requests go directly to the server; if only the proxy can reach it, they fail",
  };
}

/** Options of {@link runDoctor}. */
export interface DoctorRun {
  /** The client configuration, as the `token` command would use it. */
  readonly options: ClientCredentialsOptions;
  readonly env: NodeJS.ProcessEnv;
  readonly now: () => number;
  /** Called with each HTTP exchange (redacted) as it completes, for `--verbose`. */
  readonly onExchange?: ((exchange: TraceExchange) => void) | undefined;
  /** Called with each check as it completes, so the user sees progress. */
  readonly onCheck: (check: DoctorCheck) => void;
}

/**
 * Runs the checks in order: endpoint reachable and TLS trusted; discovery (with an issuer); client
 * authentication method; token request; token lifetime and refresh schedule; clock skew; scope;
 * revocation endpoint; proxy. Checks that depend on a failed one are not run. Returns every check run.
 *
 * @throws TypeError when the options are invalid (before any request).
 */
export async function runDoctor(run: DoctorRun): Promise<DoctorCheck[]> {
  const checks: DoctorCheck[] = [];
  const add = (check: DoctorCheck) => {
    checks.push(check);
    run.onCheck(check);
    return check;
  };
  const ctx: Context = { options: run.options, method: methodOf(run.options), exchanges: [] };
  const traced = traceFetch(globalThis.fetch, (exchange) => {
    ctx.exchanges.push({ exchange, at: run.now() });
    run.onExchange?.(exchange);
  });
  // Doctor reports the first failure as it is: no retries.
  const client = new ClientCredentialsClient({ ...run.options, retry: false, fetch: run.options.tls === undefined ? traced : undefined });
  try {
    const { tokenEndpoint, issuer } = run.options;
    const endpoint = new URL(String(tokenEndpoint ?? issuer));
    const tlsCa = typeof run.options.tls === 'object' ? run.options.tls.ca : undefined;
    const connected = await probe(endpoint, {
      ca: typeof tlsCa === 'string' ? tlsCa : undefined,
      timeout: run.options.timeout ?? defaults.timeout,
    });
    if (connected.ok) {
      add({
        check: 'endpoint',
        status: 'pass',
        message: `${endpoint.origin} reachable${endpoint.protocol === 'https:' ? ', TLS certificate trusted' : ' (plain HTTP)'}`,
      });
    } else {
      const { saw, hint } = probeHint(connected.code, endpoint, run.options.tls !== undefined);
      add({ check: 'endpoint', status: 'fail', message: `${endpoint.origin}: ${saw}`, hint });
    }
    let canRequest = connected.ok;
    if (canRequest && issuer !== undefined) {
      const discovery = add(await checkDiscovery(ctx, traced, String(issuer)));
      if (discovery.status === 'fail' && tokenEndpoint === undefined) canRequest = false;
    }
    if (canRequest) {
      add(checkMethod(ctx));
      const sentAt = run.now();
      let token: Awaited<ReturnType<ClientCredentialsClient['getToken']>> | undefined;
      try {
        token = await client.getToken();
      } catch (error) {
        const { message, hint } = failureHint(error, ctx);
        add({ check: 'token request', status: 'fail', message, hint });
      }
      const response = lastTokenResponse(
        ctx,
        tokenEndpoint === undefined ? (ctx.metadata?.token_endpoint as string | undefined) : String(tokenEndpoint),
      );
      if (token !== undefined) {
        add({ check: 'token request', status: 'pass', message: `${token.tokenType} token issued with ${ctx.method}` });
        add(checkLifetime(token, sentAt, response));
      }
      if (ctx.exchanges.length > 0 || run.options.tls !== undefined) add(checkClock(ctx));
      if (token !== undefined) add(checkScope(ctx, typeof response?.scope === 'string' ? response.scope : undefined));
      add(checkRevocation(ctx));
    }
    add(checkProxy(run.env));
    return checks;
  } finally {
    await client.close();
  }
}
