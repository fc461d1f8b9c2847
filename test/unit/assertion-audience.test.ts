import { generateKeyPairSync } from 'node:crypto';
import { decodeJwt } from 'jose';
import { describe, expect, it } from 'vitest';
import type { TestClientOptions } from '../helpers/core.js';
import { ISSUER, REVOKE_URL, TOKEN_URL, revocationEndpoint, tokenEndpoint, useMswServer } from '../helpers/msw.js';
import { useClients } from '../helpers/core.js';

const server = useMswServer();
const makeClient = useClients();
const p256 = generateKeyPairSync('ec', { namedCurve: 'P-256' });

const JWT_METHODS: Record<string, TestClientOptions> = {
  private_key_jwt: { clientSecret: undefined, privateKey: p256.privateKey },
  client_secret_jwt: { clientAuth: 'client_secret_jwt' },
};

/** The `aud` of the assertions a client sends to the token endpoint and to the revocation endpoint. */
async function audiences(more: TestClientOptions) {
  const token = tokenEndpoint();
  const revocation = revocationEndpoint();
  server.use(token.handler, revocation.handler);
  const client = makeClient({ issuer: ISSUER, revocationEndpoint: REVOKE_URL, ...more });
  await client.getToken();
  await client.revoke();
  const aud = (form: URLSearchParams) => decodeJwt(form.get('client_assertion')!).aud;
  return { token: token.seen.map((s) => aud(s.form)), revoke: revocation.seen.map((s) => aud(s.form)) };
}

describe.each(Object.entries(JWT_METHODS))('clientAssertion.audience with %s', (_method, options) => {
  it("'endpoint': aud is the token endpoint URL for token requests and the revocation endpoint URL for revoke()", async () => {
    expect(await audiences({ ...options, clientAssertion: { audience: 'endpoint' } })).toEqual({
      token: [TOKEN_URL],
      revoke: [REVOKE_URL],
    });
  });

  it("'token_endpoint': aud is the token endpoint URL at both endpoints", async () => {
    expect(await audiences({ ...options, clientAssertion: { audience: 'token_endpoint' } })).toEqual({
      token: [TOKEN_URL],
      revoke: [TOKEN_URL],
    });
  });

  it('default: aud is the issuer at both endpoints', async () => {
    expect(await audiences(options)).toEqual({ token: [ISSUER], revoke: [ISSUER] });
  });
});
