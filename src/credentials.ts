import type { ClientAssertionOptions, ClientCredentialsOptions, ResolvedOptions } from './options.js';
import {
  type BasicEncoding,
  type ClientAuth,
  type ClientAuthMethod,
  clientAuthFor,
  JWT_BEARER,
  secretForms,
} from './protocol/client-auth.js';
import {
  checkString,
  type CredentialProvider,
  CredentialSource,
  CredentialVersions,
  InvalidCredential,
} from './protocol/credential-source.js';
import { type SigningKey, signingKey } from './protocol/keys.js';
import { type ClientTls, type TlsOptions, tlsCheck } from './protocol/mtls.js';
import { secretFromFile } from './protocol/secret-file.js';
import type { Clock } from './util/clock.js';

/** How many credentials (the current one and those before it) are redacted from error messages. */
const REDACTED_GENERATIONS = 4;

/** The client's credentials, read through providers where the options give functions. */
export interface Credentials {
  /** Authenticates one request with the current credentials, the configured method and form-encoded Basic. */
  readonly authenticate: ClientAuth;
  /** The client secret last read (fixed, or the provider's latest), if any. */
  currentSecret(): string | undefined;
  /** The client authentication of `method` (and `basicEncoding`) over the same credentials. */
  authFor(method: ClientAuthMethod, basicEncoding: BasicEncoding): ClientAuth;
  /** Counts credential changes: a request refused with one version may be retried with a newer one. */
  readonly versions: CredentialVersions;
  /** True when a credential comes from a provider (it may change). */
  readonly rotating: boolean;
  /** Asks the providers again; resolves with the version of the credentials they return now. */
  refresh(): Promise<number>;
  /**
   * What to redact from errors: the credentials recently sent, in the forms they travel in. One array,
   * updated in place when a provider returns a new credential.
   */
  readonly secrets: readonly string[];
  /** The TLS of the client's connections: fixed options, or the `tls` provider's answers, checked. */
  readonly tls: TlsOptions | CredentialSource<ClientTls> | undefined;
}

/** The `exp` of a JWT (epoch s), or `undefined` when `token` is not a JWT with a numeric `exp`. */
export function jwtExpiry(token: string): number | undefined {
  const parts = token.split('.');
  if (parts.length !== 3) return undefined;
  try {
    const payload: unknown = JSON.parse(Buffer.from(parts[1]!, 'base64url').toString('utf8'));
    const exp = (payload as { exp?: unknown } | null)?.exp;
    return typeof exp === 'number' && Number.isFinite(exp) ? exp : undefined;
  } catch {
    return undefined;
  }
}

/**
 * The credentials of resolved options: fixed values, or sources asking their providers on each request,
 * each answer awaited at most the `timeout` option. (Not until the client closes: `close({ revoke: true })`
 * still needs them; callers stop waiting when the client closes or their signal aborts anyway.)
 */
export function credentialsFor(options: ResolvedOptions, clock: Clock): Credentials {
  const { clientId, clientSecret, keyProvider, assertion } = options;
  const versions = new CredentialVersions();
  const secrets: string[] = [];
  const generations: (readonly string[])[] = [];
  const redactAlso = (forms: readonly string[]) => {
    generations.push(forms);
    if (generations.length > REDACTED_GENERATIONS) generations.shift();
    secrets.splice(0, secrets.length, ...generations.flat());
  };
  const sources: CredentialSource<unknown>[] = [];
  const source = <T>(
    provider: () => unknown,
    option: string,
    check: (value: unknown) => T,
    onChange: (value: T) => void,
    same?: (a: T, b: T) => boolean,
  ) => {
    const created = new CredentialSource<T>(provider, { option, check, same, timeout: options.timeout }, versions, onChange);
    sources.push(created as CredentialSource<unknown>);
    return created;
  };

  let secret: string | CredentialSource<string> | undefined;
  let lastSecret: string | undefined;
  if (typeof clientSecret === 'function') {
    secret = source(clientSecret, 'clientSecret', checkString, (s) => {
      lastSecret = s;
      redactAlso(secretForms(clientId, s));
    });
  } else if (clientSecret !== undefined) {
    secret = clientSecret;
    lastSecret = clientSecret;
    redactAlso(secretForms(clientId, clientSecret));
  }

  let key: SigningKey | CredentialSource<SigningKey> | undefined = options.signingKey;
  if (keyProvider !== undefined) {
    let memo: { readonly input: unknown; readonly key: SigningKey } | undefined;
    const checkKey = (input: unknown): SigningKey => {
      if (memo !== undefined && memo.input === input) return memo.key;
      if (input === null || (typeof input !== 'string' && typeof input !== 'object'))
        throw new InvalidCredential(`a value of type ${input === null ? 'null' : typeof input}, not a private key`);
      let checked: SigningKey;
      try {
        checked = signingKey('privateKey', input as never, keyProvider.alg, keyProvider.kid);
      } catch (error) {
        throw new InvalidCredential(`an unusable key (${(error as Error).message.replace(/^m2m-token: /, '')})`);
      }
      memo = { input, key: checked };
      return checked;
    };
    const same = (a: SigningKey, b: SigningKey) => a.alg === b.alg && a.kid === b.kid && a.key.equals(b.key);
    key = source(keyProvider.get, 'privateKey', checkKey, () => {}, same);
  }

  let external: { readonly token: string | CredentialSource<string>; readonly type: string } | undefined;
  if (assertion !== undefined) {
    const { token, type } = assertion;
    const provider = typeof token === 'string' ? () => token : typeof token === 'function' ? token : secretFromFile(token.file);
    const checkAssertion = (value: unknown): string => {
      const jwt = checkString(value);
      const exp = jwtExpiry(jwt);
      if (exp !== undefined && exp * 1000 <= clock.wall()) {
        throw new InvalidCredential(
          `an assertion that expired at ${new Date(exp * 1000).toISOString()}: provide a fresh one for each call`,
        );
      }
      return jwt;
    };
    external = {
      token: source(provider, 'clientAssertion.token', checkAssertion, (a) =>
        redactAlso([a, new URLSearchParams({ a }).toString().slice(2)]),
      ),
      type,
    };
  }

  const tls = typeof options.tls === 'function' ? source(options.tls, 'tls', tlsCheck(), () => {}) : options.tls;

  const authFor = (method: ClientAuthMethod, basicEncoding: BasicEncoding) =>
    clientAuthFor({
      method,
      clientId,
      clientSecret: secret,
      signingKey: key,
      assertion: external,
      assertionLifetime: options.assertionLifetime,
      basicEncoding,
    });
  return {
    authenticate: authFor(options.clientAuth, 'form'),
    authFor,
    currentSecret: () => lastSecret,
    versions,
    rotating: sources.length > 0,
    refresh: async () => {
      await Promise.all(sources.map((s) => s.get()));
      return versions.current;
    },
    secrets,
    tls,
  };
}

function fail(option: string, expected: string): never {
  throw new TypeError(`m2m-token: option \`${option}\` must be ${expected}`);
}

/**
 * Validates the options that may be providers (`clientSecret`, `privateKey`, `clientAssertion.token`)
 * and `refreshTokens`. Throws a `TypeError` naming the option.
 */
export function resolveCredentialOptions(
  input: ClientCredentialsOptions,
): Pick<ResolvedOptions, 'keyProvider' | 'assertion' | 'refreshTokens'> & { readonly fixedKey: boolean } {
  const { clientSecret, privateKey, clientAssertion = {}, refreshTokens = true } = input;
  if (clientSecret !== undefined && typeof clientSecret !== 'function' && (typeof clientSecret !== 'string' || clientSecret === '')) {
    fail('clientSecret', 'a non-empty string or a function returning one');
  }
  if (typeof refreshTokens !== 'boolean') fail('refreshTokens', 'a boolean');
  const { token, type, alg, kid } = (
    typeof clientAssertion === 'object' && clientAssertion !== null ? clientAssertion : {}
  ) as ClientAssertionOptions;
  let assertion: ResolvedOptions['assertion'];
  if (token !== undefined) {
    const isFile =
      typeof token === 'object' &&
      token !== null &&
      typeof (token as { file?: unknown }).file === 'string' &&
      (token as { file: string }).file !== '';
    if (!(typeof token === 'string' && token !== '') && typeof token !== 'function' && !isFile) {
      fail('clientAssertion.token', 'a non-empty string, a function returning one, or { file }');
    }
    if (type !== undefined && (typeof type !== 'string' || type === '')) fail('clientAssertion.type', 'a non-empty string');
    for (const other of ['alg', 'kid', 'audience', 'lifetime'] as const) {
      if (clientAssertion[other] !== undefined)
        fail(`clientAssertion.${other}`, 'unset with `clientAssertion.token` (it describes assertions the client signs)');
    }
    if (privateKey !== undefined) fail('privateKey', 'unset with `clientAssertion.token`');
    if (input.clientAuth !== undefined && input.clientAuth !== 'private_key_jwt')
      fail('clientAuth', "'private_key_jwt' (or unset) with `clientAssertion.token`");
    assertion = {
      token: isFile ? { file: (token as { file: string }).file } : (token as string | CredentialProvider<string>),
      type: type ?? JWT_BEARER,
    };
  } else if (type !== undefined) fail('clientAssertion.type', 'unset without `clientAssertion.token`');
  const keyProvider = typeof privateKey === 'function' ? { get: privateKey as CredentialProvider<unknown>, alg, kid } : undefined;
  return { keyProvider, assertion, refreshTokens, fixedKey: privateKey !== undefined && keyProvider === undefined };
}
