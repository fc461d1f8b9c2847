/**
 * Credential providers that never settle are bounded (the `timeout` option, the caller's signal, the
 * client closing), and a secret a provider returns while a request is prepared is redacted from that
 * request's errors too (the refresh grant's redaction list once was a copy taken before).
 */
import { inspect } from 'node:util';
import { describe, expect, it } from 'vitest';
import { rejectionOf, SECRET, type TestClientOptions, tokenJson, useClients, within } from '../helpers/core.js';
import { REVOKE_URL, revocationEndpoint, tokenEndpoint, useMswServer } from '../helpers/msw.js';

const server = useMswServer();
const makeClient = useClients();

/** A provider that never settles, counting its calls. */
function hung() {
  const state = { calls: 0 };
  const provider = () => {
    state.calls++;
    return new Promise<never>(() => {});
  };
  return { state, provider };
}

const withProvider: Record<string, (provider: () => Promise<never>) => TestClientOptions> = {
  clientSecret: (provider) => ({ clientSecret: provider }),
  privateKey: (provider) => ({ clientSecret: undefined, privateKey: provider }),
  'clientAssertion.token': (provider) => ({ clientSecret: undefined, clientAssertion: { token: provider } }),
};

describe('a provider that never settles', () => {
  it.each(Object.keys(withProvider))(
    '%s: getToken() rejects with CONFIG naming the option once `timeout` passed, and it is asked again on the next call',
    async (option) => {
      const endpoint = tokenEndpoint();
      server.use(endpoint.handler);
      const { state, provider } = hung();
      const client = makeClient({ ...withProvider[option]!(provider), timeout: 20 });

      const error = await within(rejectionOf(client.getToken()));
      expect(error).toMatchObject({ name: 'TokenError', code: 'CONFIG' });
      expect(error.message).toContain(`the \`${option}\` provider did not answer within the \`timeout\` option`);
      await within(rejectionOf(client.getToken()));

      expect(state.calls).toBe(2);
      expect(endpoint.seen).toEqual([]);
    },
  );

  it("the caller's signal ends its wait with ABORTED, long before `timeout`", async () => {
    const { state, provider } = hung();
    const client = makeClient({ clientSecret: provider, timeout: 600_000 });
    const controller = new AbortController();
    const waiting = client.getToken({ signal: controller.signal });
    await expect.poll(() => state.calls).toBe(1);
    controller.abort();
    expect(await within(rejectionOf(waiting))).toMatchObject({ code: 'ABORTED' });
  });

  it('close() ends the wait with CLOSED', async () => {
    const { state, provider } = hung();
    const client = makeClient({ clientSecret: provider, timeout: 600_000 });
    const waiting = client.getToken();
    await expect.poll(() => state.calls).toBe(1);
    await within(client.close());
    expect(await within(rejectionOf(waiting))).toMatchObject({ code: 'CLOSED' });
  });
});

it('close({ revoke: true }) still asks the provider for the secret of its revocation requests', async () => {
  const revocations = revocationEndpoint();
  server.use(tokenEndpoint().handler, revocations.handler);
  const client = makeClient({ clientSecret: async () => SECRET, revocationEndpoint: REVOKE_URL });
  await client.getToken();

  expect(await within(client.close({ revoke: true }))).toMatchObject({ revoked: 1, errors: [] });
  expect(revocations.tokens).toEqual(['tok-1']);
});

describe('a secret rotated while a refresh-token request is prepared', () => {
  const OLD = 'old-secret-must-never-leak-1';
  const NEW = 'new-secret-must-never-leak-2';
  const REFRESH = 'RT-must-never-leak-1';

  it('is redacted from the error of a custom fetch that quotes the request (message, cause chain, inspect)', async () => {
    server.use(tokenEndpoint((n) => tokenJson(`tok-${n}`, 3600, { refresh_token: REFRESH })).handler);
    let providerSecret = OLD;
    const quoting: typeof globalThis.fetch = async (input, init) => {
      const body = String(init?.body);
      if (!body.includes('grant_type=refresh_token')) return globalThis.fetch(input, init);
      const authorization = (init?.headers as Record<string, string> | undefined)?.authorization;
      throw new TypeError(`fetch failed: ${authorization} ${body}`, {
        cause: new Error(`socket hang up sending ${authorization} ${body}`),
      });
    };
    const client = makeClient({ clientSecret: () => providerSecret, fetch: quoting });
    await client.getToken();

    providerSecret = NEW;
    const error = await rejectionOf(client.getToken({ forceRefresh: true }));

    expect(error).toMatchObject({ code: 'NETWORK' });
    const shown = `${error.message} ${inspect(error, { depth: 10, showHidden: true })} ${JSON.stringify(error)}`;
    expect(shown).toContain('[REDACTED]');
    for (const secret of [NEW, Buffer.from(`svc-a:${NEW}`).toString('base64'), REFRESH, SECRET]) expect(shown).not.toContain(secret);
  });
});

it('a provider that rejects after `timeout` passed causes no unhandled rejection', async () => {
  server.use(tokenEndpoint().handler);
  let reject!: (error: Error) => void;
  const client = makeClient({ clientSecret: () => new Promise<string>((_, r) => (reject = r)), timeout: 20 });
  expect(await within(rejectionOf(client.getToken()))).toMatchObject({ code: 'CONFIG' });
  reject(new Error('late'));
});
