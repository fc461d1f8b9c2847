/**
 * Type tests (checked by `npm run typecheck`): what users write must compile under `strict` and
 * `exactOptionalPropertyTypes`, and what is wrong must not.
 */
import { fetch as undiciFetch } from 'undici';
import { describe, expectTypeOf, it } from 'vitest';
import {
  type ClientCredentialsClient,
  type ClientCredentialsOptions,
  diagnosticsChannels,
  type GetTokenOptions,
  type RetryEvent,
  type TlsOptions,
  tlsFromFiles,
} from '../../src/index.js';

describe('option types', () => {
  it("accept undici's own fetch without a cast, for the client and for createFetch", () => {
    const options: ClientCredentialsOptions = {
      tokenEndpoint: 'https://as.example/token',
      clientId: 'a',
      clientSecret: 's',
      fetch: undiciFetch,
    };
    expectTypeOf(options.fetch).not.toBeUndefined();
    const create = (client: ClientCredentialsClient) => client.createFetch({ fetch: undiciFetch });
    expectTypeOf(create).returns.toEqualTypeOf<typeof globalThis.fetch>();
  });

  it('accept tls as fixed options, tlsFromFiles, or a function returning options or a promise of them', () => {
    const fromFiles: ClientCredentialsOptions = {
      tokenEndpoint: 'https://as.example/token',
      clientId: 'a',
      tls: tlsFromFiles({ cert: '/etc/tls/tls.crt', key: '/etc/tls/tls.key', ca: '/etc/tls/ca.crt' }),
    };
    const fromVault: ClientCredentialsOptions = { ...fromFiles, tls: async (): Promise<TlsOptions> => ({ cert: 'PEM', key: 'PEM' }) };
    const sync: ClientCredentialsOptions = { ...fromFiles, tls: () => ({ cert: Buffer.from('PEM'), key: 'PEM' }) };
    expectTypeOf([fromFiles, fromVault, sync]).toEqualTypeOf<ClientCredentialsOptions[]>();
    // @ts-expect-error: a provider returns TLS options, not a PEM string
    const wrong: ClientCredentialsOptions = { ...fromFiles, tls: () => 'PEM' };
    expectTypeOf(wrong.clientId).toBeString();
  });

  it('accept undefined for an optional per-call option (exactOptionalPropertyTypes)', () => {
    const scope: string | undefined = process.env.SCOPE;
    const signal: AbortSignal | undefined = undefined;
    const call: GetTokenOptions = { scope, signal };
    expectTypeOf(call).toMatchTypeOf<GetTokenOptions>();
  });

  it('refuse a possibly-undefined client secret: a public client says clientAuth none', () => {
    const secret: string | undefined = process.env.CLIENT_SECRET;
    // @ts-expect-error: clientSecret is string, not string | undefined (the client throws a TypeError for it too)
    const options: ClientCredentialsOptions = { tokenEndpoint: 'https://as.example/token', clientId: 'a', clientSecret: secret };
    expectTypeOf(options.clientId).toBeString();
  });

  it('give diagnostics channel subscribers typed payloads', () => {
    const listener = (event: RetryEvent) => event.reason;
    diagnosticsChannels.retry.subscribe(listener);
    diagnosticsChannels.retry.unsubscribe(listener);
    expectTypeOf(diagnosticsChannels.retry.subscribe).parameter(0).parameter(0).toEqualTypeOf<RetryEvent>();
  });
});
