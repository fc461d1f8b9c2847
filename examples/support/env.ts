/**
 * Where the examples get their authorization server from, so that each example reads like user code.
 *
 * - With `M2M_TOKEN_ENDPOINT`, `M2M_CLIENT_ID` and `M2M_CLIENT_SECRET` set, the examples talk to that
 *   server. Optional: `M2M_SCOPE` (space-separated), `M2M_AUDIENCE`, `M2M_RESOURCE`, `M2M_API_URL` (a
 *   protected API that accepts the tokens) and `M2M_REVOCATION_ENDPOINT`.
 * - With none of them set, an embedded authorization server and protected API are started in this process
 *   on 127.0.0.1 (see ./embedded-server.ts) and stopped by {@link ExampleEnvironment.close}.
 *
 * Nothing here prints a token or a secret; {@link fingerprint} is what the examples show instead.
 * @module
 */
import { createHash } from 'node:crypto';
import type { ClientCredentialsOptions } from 'm2m-token';
import { API_RESOURCE, API_SCOPES, demoClients, startAuthorizationServer, startResourceServer } from './embedded-server.js';

export interface ExampleEnvironment {
  /** `embedded` for the in-process server, `configured` for one from the M2M_* variables. */
  readonly kind: 'embedded' | 'configured';
  /** Options for `new ClientCredentialsClient(…)`: endpoints, credentials, default scope/audience/resource. */
  readonly client: ClientCredentialsOptions;
  /** Scopes the client may ask for, one by one (the embedded server's, or those of `M2M_SCOPE`). */
  readonly scopes: readonly string[];
  /** An `audience` to ask a token for (`M2M_AUDIENCE`), if any. */
  readonly audience: string | undefined;
  /** A resource indicator (RFC 8707) to ask a token for (the embedded API's, or `M2M_RESOURCE`), if any. */
  readonly resource: string | undefined;
  /** Base URL of a protected API that accepts the client's default tokens (`M2M_API_URL`), if any. */
  readonly apiUrl: string | undefined;
  /**
   * Embedded server only: whether the authorization server considers `token` active (RFC 7662
   * introspection, as the protected API would do it).
   */
  readonly introspect: ((token: string) => Promise<boolean>) | undefined;
  /** Embedded server only: how many tokens the authorization server has issued so far. */
  readonly tokensIssued: (() => number) | undefined;
  /** Stops the embedded servers; nothing to do for a configured server. */
  close(): Promise<void>;
}

const REQUIRED = ['M2M_TOKEN_ENDPOINT', 'M2M_CLIENT_ID', 'M2M_CLIENT_SECRET'] as const;

/** The example environment: a configured server if the M2M_* variables say so, else an embedded one. */
export async function exampleEnvironment(env: NodeJS.ProcessEnv = process.env): Promise<ExampleEnvironment> {
  const value = (name: string) => (env[name] === undefined || env[name] === '' ? undefined : env[name]);
  const present = REQUIRED.filter((name) => value(name) !== undefined);
  if (present.length > 0 && present.length < REQUIRED.length) {
    const missing = REQUIRED.filter((name) => value(name) === undefined);
    usageError(`set ${missing.join(' and ')} too, or unset ${present.join(', ')} to use the embedded server`);
  }

  if (present.length === REQUIRED.length) {
    const scope = value('M2M_SCOPE');
    const audience = value('M2M_AUDIENCE');
    const resource = value('M2M_RESOURCE');
    const revocationEndpoint = value('M2M_REVOCATION_ENDPOINT');
    const client: ClientCredentialsOptions = {
      tokenEndpoint: value('M2M_TOKEN_ENDPOINT')!,
      clientId: value('M2M_CLIENT_ID')!,
      clientSecret: value('M2M_CLIENT_SECRET')!,
    };
    if (revocationEndpoint !== undefined) client.revocationEndpoint = revocationEndpoint;
    if (scope !== undefined) client.scope = scope;
    if (audience !== undefined) client.audience = audience;
    console.log(`authorization server: ${client.tokenEndpoint} (from M2M_TOKEN_ENDPOINT)`);
    return {
      kind: 'configured',
      client,
      scopes: scope?.split(' ').filter(Boolean) ?? [],
      audience,
      resource,
      apiUrl: value('M2M_API_URL'),
      introspect: undefined,
      tokensIssued: undefined,
      close: async () => {},
    };
  }

  const authServer = await startAuthorizationServer();
  const api = await startResourceServer({ introspectionEndpoint: authServer.introspectionEndpoint, ...demoClients.resourceServer });
  console.log(
    `authorization server: embedded, ${authServer.issuer} (set M2M_TOKEN_ENDPOINT, M2M_CLIENT_ID, M2M_CLIENT_SECRET to use yours)`,
  );
  return {
    kind: 'embedded',
    client: {
      tokenEndpoint: authServer.tokenEndpoint,
      revocationEndpoint: authServer.revocationEndpoint,
      clientId: demoClients.basic.clientId,
      clientSecret: demoClients.basic.clientSecret,
      scope: 'orders:read',
    },
    scopes: API_SCOPES,
    audience: undefined,
    resource: API_RESOURCE,
    apiUrl: api.url,
    introspect: async (token) => (await authServer.introspect(token)).active,
    tokensIssued: () => authServer.issued(),
    close: async () => {
      await api.close();
      await authServer.close();
    },
  };
}

/** A short, stable, non-reversible label for a token: the first 8 hex digits of its SHA-256. */
export function fingerprint(accessToken: string): string {
  return createHash('sha256').update(accessToken).digest('hex').slice(0, 8);
}

/** The API URL, or exit telling the user which variable to set. */
export function requireApiUrl(environment: ExampleEnvironment): string {
  if (environment.apiUrl === undefined) usageError('this example calls a protected API: set M2M_API_URL');
  return environment.apiUrl;
}

/** A configuration mistake: one line on stderr and exit code 2, not a stack trace. */
function usageError(message: string): never {
  console.error(`example not started: ${message}`);
  process.exit(2);
}
