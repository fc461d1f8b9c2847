import { resolveBasicEncoding } from './client-auth-choice.js';
import { resolveBudget } from './acquire/budget.js';
import { resolveCooldown } from './acquire/cooldown.js';
import type { ClientAuthMethod } from './protocol/client-auth.js';
import { resolveCredentialOptions } from './credentials.js';
import { type PrivateKeyInput, signingKey } from './protocol/keys.js';
import type { TokenParams } from './token.js';
import { parseEndpoint } from './util/endpoint.js';
import { type ClientCredentialsOptions, defaults, type ResolvedOptions } from './options.js';
import type { RetryPolicy } from './protocol/retry.js';
import { resolveResourceDiscovery } from './resources/options.js';
import { validateTransport } from './protocol/transport.js';

/** Every option of {@link ClientCredentialsOptions}: anything else is a `TypeError` naming the key. */
const OPTION_NAMES: readonly (keyof ClientCredentialsOptions)[] = [
  'tokenEndpoint',
  'issuer',
  'revocationEndpoint',
  'clientId',
  'clientSecret',
  'privateKey',
  'clientAuth',
  'clientAssertion',
  'tls',
  'dpop',
  'scope',
  'audience',
  'resource',
  'extraParams',
  'timeout',
  'retry',
  'fetch',
  'allowInsecureHttp',
  'expiryMargin',
  'refreshRatio',
  'refreshJitter',
  'defaultLifetime',
  'maxCacheEntries',
  'maxResponseBytes',
  'invalidClientBackoff',
  'logger',
  'store',
  'trace',
  'resourceDiscovery',
  'basicEncoding',
  'refreshTokens',
  'proxy',
  'cooldown',
  'budget',
];

/** Levenshtein distance, for "did you mean" hints. */
function distance(a: string, b: string): number {
  let previous = Array.from({ length: b.length + 1 }, (_, i) => i);
  for (let i = 1; i <= a.length; i++) {
    const current = [i];
    for (let j = 1; j <= b.length; j++) {
      current[j] = Math.min(previous[j]! + 1, current[j - 1]! + 1, previous[j - 1]! + (a[i - 1] === b[j - 1] ? 0 : 1));
    }
    previous = current;
  }
  return previous[b.length]!;
}

/** Throws a `TypeError` for a key that is not an option, naming the closest valid one. */
export function rejectUnknownKeys(input: object, known: readonly string[], what = 'option'): void {
  for (const key of Object.keys(input)) {
    if (known.includes(key)) continue;
    const lower = key.toLowerCase();
    const [closest] = [...known].sort((a, b) => distance(lower, a.toLowerCase()) - distance(lower, b.toLowerCase()));
    throw new TypeError(`m2m-token: unknown ${what} \`${key}\`${closest === undefined ? '' : ` (did you mean \`${closest}\`?)`}`);
  }
}

const CLIENT_AUTH_METHODS: readonly ClientAuthMethod[] = [
  'client_secret_basic',
  'client_secret_post',
  'client_secret_jwt',
  'private_key_jwt',
  'tls_client_auth',
  'self_signed_tls_client_auth',
  'none',
];
const NEEDS: Partial<Record<ClientAuthMethod, 'clientSecret' | 'privateKey' | 'tls'>> = {
  client_secret_basic: 'clientSecret',
  client_secret_post: 'clientSecret',
  client_secret_jwt: 'clientSecret',
  private_key_jwt: 'privateKey',
  tls_client_auth: 'tls',
  self_signed_tls_client_auth: 'tls',
};
const RESERVED_PARAMS = new Set(['grant_type', 'client_id', 'client_secret', 'scope', 'audience', 'resource', 'refresh_token']);

function fail(option: string, expected: string): never {
  throw new TypeError(`m2m-token: option \`${option}\` must be ${expected}`);
}

/** The longest delay a Node.js timer can wait (about 24.8 days). */
const MAX_TIMER = 2_147_483_647;

function nonNegative(option: string, value: unknown, fallback: number, { integer = false, max = Infinity } = {}): number {
  if (value === undefined) return fallback;
  if (typeof value !== 'number' || !Number.isFinite(value) || value < 0 || value > max || (integer && !Number.isInteger(value))) {
    fail(option, `a ${integer ? 'non-negative integer' : 'non-negative number'}${max < Infinity ? ` not above ${max}` : ''}`);
  }
  return value;
}

function positive(option: string, value: unknown, fallback: number, max = Infinity): number {
  const n = nonNegative(option, value, fallback, { integer: true, max });
  if (n === 0) fail(option, 'a positive integer');
  return n;
}

/** Normalises a `string | string[]` option to a list of unique, non-empty strings. */
export function stringList(option: string, value: unknown): readonly string[] {
  if (value === undefined) return [];
  const items = typeof value === 'string' ? [value] : value;
  if (!Array.isArray(items) || !items.every((s) => typeof s === 'string')) fail(option, 'a string or an array of strings');
  return [...new Set((items as string[]).filter((s) => s !== ''))];
}

/** RFC 6749 §3.3 scope-token: printable ASCII except space, `"` and `\`. */
const SCOPE_TOKEN = /^[\x21\x23-\x5b\x5d-\x7e]+$/;

/**
 * Normalises a scope option: a space-separated string or an array (whose entries may hold several
 * space-separated scopes) to unique scope tokens, checked against RFC 6749 §3.3.
 */
export function scopeList(option: string, value: unknown): readonly string[] {
  const scopes = [...new Set(stringList(option, value).flatMap((s) => s.split(' ').filter((t) => t !== '')))];
  if (!scopes.every((s) => SCOPE_TOKEN.test(s))) fail(option, 'scope tokens of printable ASCII, separated by single spaces');
  return scopes;
}

/** Validates user options, applies the defaults and returns a copy. Throws `TypeError` naming the option. */
export function resolveOptions(input: ClientCredentialsOptions): ResolvedOptions {
  if (typeof input !== 'object' || input === null) throw new TypeError('m2m-token: options must be an object');
  rejectUnknownKeys(input, OPTION_NAMES);
  for (const credential of ['clientSecret', 'privateKey'] as const) {
    // `clientSecret: process.env.CLIENT_SECRET` with the variable unset must not make a public client.
    if (credential in input && (input[credential] === undefined || input[credential] === '')) {
      fail(credential, "set to a value (it is present but undefined or empty; a public client says clientAuth: 'none')");
    }
  }
  const allowInsecureHttp = input.allowInsecureHttp ?? defaults.allowInsecureHttp;
  if (typeof allowInsecureHttp !== 'boolean') fail('allowInsecureHttp', 'a boolean');

  const endpoint = (name: 'tokenEndpoint' | 'issuer' | 'revocationEndpoint') =>
    input[name] === undefined ? undefined : parseEndpoint(name, input[name], allowInsecureHttp);
  const tokenEndpoint = endpoint('tokenEndpoint');
  const issuerUrl = endpoint('issuer');
  const issuer = input.issuer === undefined ? undefined : String(input.issuer);
  const revocationEndpoint = endpoint('revocationEndpoint');
  const resourceDiscovery = resolveResourceDiscovery(input.resourceDiscovery, allowInsecureHttp);
  if (!tokenEndpoint && !issuer && !resourceDiscovery) fail('tokenEndpoint', 'set (or `issuer`, for discovery)');
  if (issuerUrl && (issuerUrl.search || issuerUrl.hash)) fail('issuer', 'a URL without query or fragment');

  if (typeof input.clientId !== 'string' || input.clientId === '') fail('clientId', 'a non-empty string');
  const credentials = resolveCredentialOptions(input);
  const clientAuth =
    input.clientAuth ??
    (input.clientSecret !== undefined
      ? 'client_secret_basic'
      : input.privateKey !== undefined || credentials.assertion !== undefined
        ? 'private_key_jwt'
        : typeof input.tls === 'function' || input.tls?.cert !== undefined
          ? 'tls_client_auth'
          : 'none');
  if (!CLIENT_AUTH_METHODS.includes(clientAuth)) fail('clientAuth', `one of ${CLIENT_AUTH_METHODS.join(', ')}`);
  const needed = NEEDS[clientAuth];
  if (needed !== undefined && input[needed] === undefined && !(needed === 'privateKey' && credentials.assertion))
    fail(needed, `set for clientAuth ${clientAuth}`);

  const assertion = input.clientAssertion ?? {};
  if (typeof assertion !== 'object' || assertion === null) fail('clientAssertion', 'an object');
  if (assertion.alg !== undefined && typeof assertion.alg !== 'string') fail('clientAssertion.alg', 'a string');
  if (assertion.kid !== undefined && typeof assertion.kid !== 'string') fail('clientAssertion.kid', 'a string');
  const assertionAudience = assertion.audience ?? 'issuer';
  if (!['issuer', 'token_endpoint', 'endpoint'].includes(assertionAudience))
    fail('clientAssertion.audience', "'issuer', 'token_endpoint' or 'endpoint'");
  const key = credentials.fixedKey
    ? signingKey('privateKey', input.privateKey as PrivateKeyInput, assertion.alg, assertion.kid)
    : undefined;

  const proxy = validateTransport(input);
  const dpop = input.dpop === undefined || input.dpop === false ? undefined : input.dpop;
  if (dpop !== undefined && dpop !== true && (typeof dpop !== 'object' || dpop === null)) fail('dpop', 'a boolean or { privateKey, alg }');

  if (input.audience !== undefined && (typeof input.audience !== 'string' || input.audience === '')) {
    fail('audience', 'a non-empty string');
  }
  const extraParams: Record<string, string> = {};
  if (input.extraParams !== undefined) {
    if (typeof input.extraParams !== 'object' || input.extraParams === null) fail('extraParams', 'an object of strings');
    for (const [k, v] of Object.entries(input.extraParams)) {
      if (typeof v !== 'string') fail(`extraParams.${k}`, 'a string');
      if (RESERVED_PARAMS.has(k)) fail(`extraParams.${k}`, 'set through its own option, not extraParams');
      extraParams[k] = v;
    }
  }
  if (input.fetch !== undefined && typeof input.fetch !== 'function') fail('fetch', 'a function');
  if (input.trace !== undefined && typeof input.trace !== 'function') fail('trace', 'a function');
  if (
    input.store !== undefined &&
    (typeof input.store !== 'object' ||
      input.store === null ||
      !['get', 'set', 'delete'].every((m) => typeof (input.store as unknown as Record<string, unknown>)[m] === 'function'))
  ) {
    fail('store', 'a TokenStore (an object with get, set and delete methods)');
  }
  if (input.logger !== undefined && (typeof input.logger !== 'object' || input.logger === null)) {
    fail('logger', 'an object with debug/info/warn/error methods');
  }

  let retry: RetryPolicy = { ...defaults.retry, retries: 0 };
  if (input.retry !== false) {
    const r = input.retry === undefined ? {} : input.retry;
    if (typeof r !== 'object' || r === null) fail('retry', 'an object or false');
    retry = {
      retries: nonNegative('retry.retries', r.retries, defaults.retry.retries, { integer: true, max: 20 }),
      minDelay: nonNegative('retry.minDelay', r.minDelay, defaults.retry.minDelay, { max: MAX_TIMER }),
      maxDelay: nonNegative('retry.maxDelay', r.maxDelay, defaults.retry.maxDelay, { max: MAX_TIMER }),
    };
  }

  return {
    tokenEndpoint,
    issuer,
    issuerFromUrl: input.issuer instanceof URL,
    revocationEndpoint,
    clientId: input.clientId,
    clientSecret: input.clientSecret,
    clientAuth,
    clientAuthDefaulted: input.clientAuth === undefined,
    basicEncoding: resolveBasicEncoding(input.basicEncoding),
    signingKey: key,
    keyProvider: credentials.keyProvider,
    assertion: credentials.assertion,
    refreshTokens: credentials.refreshTokens,
    assertionAudience,
    assertionLifetime: positive('clientAssertion.lifetime', assertion.lifetime, defaults.assertionLifetime, MAX_TIMER),
    tls: input.tls === undefined || typeof input.tls === 'function' ? input.tls : { ...input.tls },
    proxy,
    dpop,
    scope: scopeList('scope', input.scope),
    audience: input.audience,
    resource: stringList('resource', input.resource),
    extraParams,
    timeout: positive('timeout', input.timeout, defaults.timeout, MAX_TIMER),
    retry,
    fetch: input.fetch,
    allowInsecureHttp,
    expiryMargin: nonNegative('expiryMargin', input.expiryMargin, defaults.expiryMargin, { max: MAX_TIMER }),
    refreshRatio: nonNegative('refreshRatio', input.refreshRatio, defaults.refreshRatio, { max: 1 }),
    refreshJitter: nonNegative('refreshJitter', input.refreshJitter, defaults.refreshJitter, { max: 0.5 }),
    defaultLifetime: positive('defaultLifetime', input.defaultLifetime, defaults.defaultLifetime),
    maxCacheEntries: positive('maxCacheEntries', input.maxCacheEntries, defaults.maxCacheEntries),
    maxResponseBytes: positive('maxResponseBytes', input.maxResponseBytes, defaults.maxResponseBytes),
    invalidClientBackoff: nonNegative('invalidClientBackoff', input.invalidClientBackoff, defaults.invalidClientBackoff, {
      max: MAX_TIMER,
    }),
    logger: input.logger,
    store: input.store,
    trace: input.trace,
    resourceDiscovery,
    cooldown: resolveCooldown(input.cooldown),
    budget: resolveBudget(input.budget),
  };
}

/**
 * The token parameters of a call's `scope`, `audience` and `resource`, each defaulting to the client's;
 * `undefined` when the call sets none of them. Throws `TypeError` naming an invalid one.
 */
export function resolveParams(
  call: { readonly scope?: unknown; readonly audience?: unknown; readonly resource?: unknown },
  defaults: TokenParams,
): TokenParams | undefined {
  if (call.scope === undefined && call.audience === undefined && call.resource === undefined) return undefined;
  if (call.audience !== undefined && (typeof call.audience !== 'string' || call.audience === '')) fail('audience', 'a non-empty string');
  return {
    scope: call.scope === undefined ? defaults.scope : scopeList('scope', call.scope),
    audience: (call.audience as string | undefined) ?? defaults.audience,
    resource: call.resource === undefined ? defaults.resource : stringList('resource', call.resource),
  };
}
