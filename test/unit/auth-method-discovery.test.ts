/**
 * Without `clientAuth`, a client whose endpoints come from discovery authenticates with a method the
 * server's `token_endpoint_auth_methods_supported` lists, chosen at the first request.
 */
import { generateKeyPairSync } from 'node:crypto';
import { http, HttpResponse } from 'msw';
import { describe, expect, it } from 'vitest';
import type { TestClientOptions } from '../helpers/core.js';
import { ISSUER, REVOKE_URL, revocationEndpoint, type SeenRequest, TOKEN_URL, tokenEndpoint, useMswServer } from '../helpers/msw.js';
import { SECRET, useClients } from '../helpers/core.js';

const server = useMswServer();
const makeClient = useClients();
const p256 = generateKeyPairSync('ec', { namedCurve: 'P-256' });

/** Serves metadata listing `methods` (left out when undefined); returns the token requests seen. */
function serverListing(methods: readonly string[] | undefined) {
  let metadataRequests = 0;
  server.use(
    http.get(`${ISSUER}/.well-known/oauth-authorization-server`, () => {
      metadataRequests++;
      return HttpResponse.json({
        issuer: ISSUER,
        token_endpoint: TOKEN_URL,
        revocation_endpoint: REVOKE_URL,
        token_endpoint_auth_methods_supported: methods,
      });
    }),
  );
  const token = tokenEndpoint();
  const revocation = revocationEndpoint();
  server.use(token.handler, revocation.handler);
  return { token: token.seen, revocation: revocation.seen, metadataRequests: () => metadataRequests };
}

/** The method a request used, as a server sees it. */
function methodOf(seen: SeenRequest): string {
  if (seen.headers.get('authorization')?.startsWith('Basic ')) return 'client_secret_basic';
  if (seen.form.has('client_secret')) return 'client_secret_post';
  if (seen.form.has('client_assertion')) return 'client_assertion';
  return 'none';
}

async function methodsUsed(methods: readonly string[] | undefined, options: TestClientOptions = {}) {
  const seen = serverListing(methods);
  const client = makeClient({ tokenEndpoint: undefined, issuer: ISSUER, ...options });
  await client.getToken();
  await client.revoke();
  return [...seen.token, ...seen.revocation].map(methodOf);
}

describe('client authentication method from discovery metadata', () => {
  it('a server listing only client_secret_post gets client_secret_post (token and revocation), not the default Basic', async () => {
    expect(await methodsUsed(['client_secret_post'])).toEqual(['client_secret_post', 'client_secret_post']);
  });

  it('the default (client_secret_basic) is kept when listed, whatever the order', async () => {
    expect(await methodsUsed(['client_secret_post', 'client_secret_basic'])).toEqual(['client_secret_basic', 'client_secret_basic']);
  });

  it('the default is kept when the metadata has no list, or lists nothing the credentials allow', async () => {
    expect(await methodsUsed(undefined)).toEqual(['client_secret_basic', 'client_secret_basic']);
    server.resetHandlers();
    expect(await methodsUsed(['private_key_jwt'])).toEqual(['client_secret_basic', 'client_secret_basic']);
  });

  it('a secret and a server listing only client_secret_jwt: an assertion keyed by the secret', async () => {
    const seen = serverListing(['client_secret_jwt']);
    await makeClient({ tokenEndpoint: undefined, issuer: ISSUER }).getToken();
    expect(seen.token.map(methodOf)).toEqual(['client_assertion']);
    const [header] = seen.token[0]!.form.get('client_assertion')!.split('.');
    expect(JSON.parse(Buffer.from(header!, 'base64url').toString())).toMatchObject({ alg: 'HS256' });
    expect(seen.token[0]!.form.toString()).not.toContain(SECRET);
  });

  it('an explicit clientAuth wins over the metadata', async () => {
    expect(await methodsUsed(['client_secret_post'], { clientAuth: 'client_secret_basic' })).toEqual([
      'client_secret_basic',
      'client_secret_basic',
    ]);
  });

  it('a private key stays private_key_jwt when listed', async () => {
    const used = await methodsUsed(['client_secret_post', 'private_key_jwt'], { clientSecret: undefined, privateKey: p256.privateKey });
    expect(used).toEqual(['client_assertion', 'client_assertion']);
  });

  it('with a configured token endpoint there is no discovery for the method: no metadata request, the default method', async () => {
    const seen = serverListing(['client_secret_post']);
    await makeClient({ tokenEndpoint: TOKEN_URL, issuer: ISSUER }).getToken();
    expect(seen.metadataRequests()).toBe(0);
    expect(seen.token.map(methodOf)).toEqual(['client_secret_basic']);
  });
});
