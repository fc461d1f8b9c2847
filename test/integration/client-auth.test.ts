import { inspect } from 'node:util';
import { describe, expect, it } from 'vitest';
import { demoClients } from '../../examples/support/embedded-server.js';
import { OAuthError, TokenError } from '../../src/index.js';
import { useClients } from '../helpers/core.js';
import { countEvents, decodeBasic, recordingFetch, useAuthorizationServer } from './support.js';

const server = useAuthorizationServer();
const newClient = useClients({});

describe('client authentication against oidc-provider', () => {
  it('client_secret_basic: sends the credentials only in the Authorization header and gets a token', async () => {
    const as = server();
    const { fetch, sent } = recordingFetch();
    const client = newClient({ tokenEndpoint: as.tokenEndpoint, ...demoClients.basic, fetch });

    const token = await client.getToken();

    expect(token.tokenType).toBe('Bearer');
    expect((await as.introspect(token.accessToken)).client_id).toBe(demoClients.basic.clientId);
    expect(sent).toHaveLength(1);
    expect(decodeBasic(sent[0]!.headers.get('authorization'))).toEqual({
      clientId: demoClients.basic.clientId,
      clientSecret: demoClients.basic.clientSecret,
    });
    expect(sent[0]!.form.has('client_secret')).toBe(false);
  });

  it('client_secret_post: sends the credentials only in the form body and gets a token', async () => {
    const as = server();
    const { fetch, sent } = recordingFetch();
    const client = newClient({ tokenEndpoint: as.tokenEndpoint, ...demoClients.post, fetch });

    const token = await client.getToken();

    expect((await as.introspect(token.accessToken)).client_id).toBe(demoClients.post.clientId);
    expect(sent).toHaveLength(1);
    expect(sent[0]!.headers.has('authorization')).toBe(false);
    expect(sent[0]!.form.get('client_id')).toBe(demoClients.post.clientId);
    expect(sent[0]!.form.get('client_secret')).toBe(demoClients.post.clientSecret);
  });

  it.each(['client_secret_basic', 'client_secret_post'] as const)(
    'a secret with RFC 6749 §2.3.1 special characters (: @ + %% space & = / ") authenticates with %s',
    async (clientAuth) => {
      const as = server();
      const { fetch, sent } = recordingFetch();
      const { clientId, clientSecret } = demoClients.special;
      expect(clientSecret).toMatch(/:/);
      expect(clientSecret).toMatch(/@/);
      expect(clientSecret).toMatch(/\+/);
      expect(clientSecret).toMatch(/%/);
      expect(clientSecret).toMatch(/ /);
      const client = newClient({ tokenEndpoint: as.tokenEndpoint, clientId, clientSecret, clientAuth, fetch });

      const token = await client.getToken();

      expect((await as.introspect(token.accessToken)).active).toBe(true);
      // The method asked for is the one used (oidc-provider would accept either for this client).
      expect(sent[0]!.headers.has('authorization')).toBe(clientAuth === 'client_secret_basic');
      expect(sent[0]!.form.has('client_secret')).toBe(clientAuth === 'client_secret_post');
    },
  );

  it.each(['client_secret_basic', 'client_secret_post'] as const)(
    'a wrong secret with %s fails with OAuthError invalid_client (401), is not retried and does not leak the secret',
    async (clientAuth) => {
      const as = server();
      const failures = countEvents(as, 'grant.error');
      const issuedBefore = as.issued();
      const wrongSecret = 'not-the-secret:with@chars+%';
      const client = newClient({
        tokenEndpoint: as.tokenEndpoint,
        clientId: demoClients.basic.clientId,
        clientSecret: wrongSecret,
        clientAuth,
      });

      const error = await client.getToken().catch((e: unknown) => e);
      failures.off();

      expect(error).toBeInstanceOf(OAuthError);
      const oauthError = error as OAuthError;
      expect(oauthError.code).toBe('OAUTH_ERROR');
      expect(oauthError.error).toBe('invalid_client');
      expect(oauthError.status).toBe(401);
      expect(TokenError.is(error)).toBe(true);
      // With Basic, a secret with reserved characters is tried once more raw (basicEncoding 'auto'):
      // the error is still the form-encoded request's invalid_client.
      expect(failures.count()).toBe(clientAuth === 'client_secret_basic' ? 2 : 1);
      expect(as.issued()).toBe(issuedBefore);
      for (const text of [
        oauthError.message,
        String(oauthError),
        inspect(oauthError, { depth: 5 }),
        inspect(oauthError.cause, { depth: 5 }),
      ]) {
        expect(text).not.toContain(wrongSecret);
        expect(text).not.toContain(encodeURIComponent(wrongSecret));
      }
    },
  );
});
