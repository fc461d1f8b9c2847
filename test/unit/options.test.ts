import { describe, expect, it } from 'vitest';
import { ClientCredentialsClient, type ClientCredentialsOptions, defaults } from '../../src/index.js';
import { TOKEN_URL, tokenEndpoint, useMswServer } from '../helpers/msw.js';
import { SECRET, rejectionOf, useClients } from '../helpers/core.js';

const server = useMswServer();
const makeClient = useClients();

const valid: ClientCredentialsOptions = { tokenEndpoint: TOKEN_URL, clientId: 'svc-a', clientSecret: SECRET };

/** Constructs with `valid` overridden by `patch` and returns the TypeError's message. */
function optionError(patch: Record<string, unknown>): string {
  let caught: unknown;
  try {
    new ClientCredentialsClient({ ...valid, ...patch } as ClientCredentialsOptions);
  } catch (error) {
    caught = error;
  }
  expect(caught).toBeInstanceOf(TypeError);
  return (caught as TypeError).message;
}

describe('invalid options throw a TypeError naming the option', () => {
  it('refuses a missing options object', () => {
    expect(() => new ClientCredentialsClient(undefined as never)).toThrow(TypeError);
    expect(() => new ClientCredentialsClient(null as never)).toThrow(TypeError);
  });

  it.each<[string, Record<string, unknown>]>([
    ['clientId', { clientId: undefined }],
    ['clientId', { clientId: '' }],
    ['clientId', { clientId: 42 }],
    ['tokenEndpoint', { tokenEndpoint: undefined }],
    ['tokenEndpoint', { tokenEndpoint: '/relative/token' }],
    ['issuer', { issuer: 'https://auth.example.com/?tenant=1' }],
    ['revocationEndpoint', { revocationEndpoint: 'nope' }],
    ['clientSecret', { clientSecret: '' }],
    ['clientSecret', { clientSecret: 123 }],
    ['clientAuth', { clientAuth: 'client_secret_magic' }],
    ['clientAuth', { clientAuth: 'CLIENT_SECRET_BASIC' }],
    ['clientSecret', { clientAuth: 'client_secret_basic', clientSecret: undefined }],
    ['clientSecret', { clientAuth: 'client_secret_post', clientSecret: undefined }],
    ['timeout', { timeout: -1 }],
    ['timeout', { timeout: 0 }],
    ['timeout', { timeout: Number.NaN }],
    ['timeout', { timeout: Number.POSITIVE_INFINITY }],
    ['timeout', { timeout: '1000' }],
    ['retry', { retry: 'yes' }],
    ['retry.retries', { retry: { retries: 1.5 } }],
    ['retry.retries', { retry: { retries: -1 } }],
    ['retry.retries', { retry: { retries: 21 } }],
    ['retry.minDelay', { retry: { minDelay: -5 } }],
    ['retry.maxDelay', { retry: { maxDelay: Number.NaN } }],
    ['scope', { scope: 42 }],
    ['scope', { scope: ['a', 1] }],
    ['scope', { scope: { a: 1 } }],
    ['resource', { resource: [null] }],
    ['audience', { audience: '' }],
    ['audience', { audience: 5 }],
    ['extraParams', { extraParams: 'tenant=1' }],
    ['extraParams', { extraParams: null }],
    ['fetch', { fetch: 'fetch' }],
    ['allowInsecureHttp', { allowInsecureHttp: 'yes' }],
    ['expiryMargin', { expiryMargin: -1 }],
    ['refreshRatio', { refreshRatio: 1.5 }],
    ['refreshRatio', { refreshRatio: -0.1 }],
    ['refreshJitter', { refreshJitter: 0.6 }],
    ['defaultLifetime', { defaultLifetime: 0 }],
    ['maxCacheEntries', { maxCacheEntries: 0 }],
    ['maxCacheEntries', { maxCacheEntries: 2.5 }],
    ['maxResponseBytes', { maxResponseBytes: 0 }],
    ['invalidClientBackoff', { invalidClientBackoff: -1 }],
  ])('names `%s` for %j', (name, patch) => {
    expect(optionError(patch)).toContain(`\`${name}\``);
  });

  it('accepts the boundary values', () => {
    for (const patch of [
      { retry: { retries: 0 } },
      { retry: { retries: 20, minDelay: 0, maxDelay: 0 } },
      { retry: false as const },
      { refreshRatio: 0 },
      { refreshRatio: 1 },
      { refreshJitter: 0 },
      { refreshJitter: 0.5 },
      { expiryMargin: 0 },
      { invalidClientBackoff: 0 },
      { timeout: 1 },
      { scope: [] },
      { scope: '' },
      { issuer: 'https://auth.example.com/tenant1' },
      { tokenEndpoint: new URL(TOKEN_URL) },
    ]) {
      expect(() => new ClientCredentialsClient({ ...valid, ...patch })).not.toThrow();
    }
  });

  it('accepts an issuer alone (the token endpoint is then discovered)', () => {
    expect(() => new ClientCredentialsClient({ issuer: 'https://auth.example.com', clientId: 'svc-a' })).not.toThrow();
  });
});

describe('per-call options', () => {
  it('rejects (does not throw) for an invalid per-call scope, resource or audience, naming it', async () => {
    const { handler, seen } = tokenEndpoint();
    server.use(handler);
    const client = makeClient();
    let call: Promise<unknown> | undefined;
    expect(() => (call = client.getToken({ scope: 5 as never }))).not.toThrow();
    const scopeError = await rejectionOf(call!);
    expect(scopeError).toBeInstanceOf(TypeError);
    expect(scopeError.message).toContain('`scope`');
    expect((await rejectionOf(client.getToken({ resource: [1] as never }))).message).toContain('`resource`');
    expect((await rejectionOf(client.getToken({ audience: '' }))).message).toContain('`audience`');
    expect(seen).toHaveLength(0);
  });
});

describe('option values', () => {
  it('documents its defaults', () => {
    expect(defaults).toEqual({
      timeout: 10_000,
      retry: { retries: 3, minDelay: 250, maxDelay: 10_000 },
      allowInsecureHttp: false,
      expiryMargin: 30_000,
      refreshRatio: 0.8,
      refreshJitter: 0.05,
      defaultLifetime: 300_000,
      maxCacheEntries: 100,
      maxResponseBytes: 1_048_576,
      invalidClientBackoff: 5_000,
      assertionLifetime: 60_000,
      closeTimeout: 5_000,
    });
  });

  it('copies the options: changing them after construction has no effect', async () => {
    const { handler, seen } = tokenEndpoint();
    server.use(handler);
    const scope = ['a'];
    const extraParams: Record<string, string> = { tenant: 't1' };
    const client = makeClient({ scope, extraParams });
    scope.push('b');
    extraParams.tenant = 't2';
    extraParams.more = 'x';
    await client.getToken();
    expect(seen[0]!.form.get('scope')).toBe('a');
    expect(seen[0]!.form.get('tenant')).toBe('t1');
    expect(seen[0]!.form.has('more')).toBe(false);
  });

  it('accepts the token endpoint as a URL object', async () => {
    const { handler, seen } = tokenEndpoint();
    server.use(handler);
    await makeClient({ tokenEndpoint: new URL(TOKEN_URL) }).getToken();
    expect(seen).toHaveLength(1);
  });
});

describe('options that fail early', () => {
  it('refuses a credential present but undefined or empty (an unset environment variable), naming it', () => {
    for (const credential of ['clientSecret', 'privateKey'] as const) {
      for (const value of [undefined, '']) {
        const create = () => new ClientCredentialsClient({ ...valid, [credential]: value } as ClientCredentialsOptions);
        expect(create).toThrow(TypeError);
        expect(create).toThrow(new RegExp(`\`${credential}\`.*clientAuth: 'none'`));
      }
    }
    // A public client says so, and needs no secret.
    const { clientSecret: _, ...noSecret } = valid;
    expect(() => new ClientCredentialsClient({ ...noSecret, clientAuth: 'none' })).not.toThrow();
  });

  it('refuses an unknown option key, naming it and the closest valid option', () => {
    expect(() => new ClientCredentialsClient({ ...valid, retries: 3 } as never)).toThrow(
      /unknown option `retries` \(did you mean `retry`\?\)/,
    );
    expect(() => new ClientCredentialsClient({ ...valid, headers: {} } as never)).toThrow(TypeError);
    expect(() => new ClientCredentialsClient({ ...valid, ClientID: 'x' } as never)).toThrow(/did you mean `clientId`/);
  });
});
