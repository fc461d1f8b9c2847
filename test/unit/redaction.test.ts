import { inspect } from 'node:util';
import { describe, expect, it } from 'vitest';
import { ClientCredentialsClient } from '../../src/index.js';

const SECRET = 's3cr3t-NOT-TO-BE-SEEN';

describe('redaction of what a custom fetch or an endpoint URL may carry', () => {
  it('a custom fetch whose error quotes the request (as interceptors do) yields a NETWORK message without the secret', async () => {
    const fetch = async (_url: string | URL | Request, init?: RequestInit) => {
      const headers = new Headers(init?.headers);
      throw new TypeError(`no mock for POST with ${headers.get('authorization')} and body ${String(init?.body)}`);
    };
    const client = new ClientCredentialsClient({
      tokenEndpoint: 'https://auth.example.com/token',
      clientId: 'svc',
      clientSecret: SECRET,
      clientAuth: 'client_secret_post',
      retry: false,
      fetch,
    });

    const error = (await client.getToken().catch((e: unknown) => e)) as Error;

    expect(error).toMatchObject({ code: 'NETWORK' });
    expect(error.message).toContain('[REDACTED]');
    expect(error.message).not.toContain(SECRET);
    await client.close();
  });

  it('toJSON and inspect show the token endpoint without its query string', async () => {
    const client = new ClientCredentialsClient({
      tokenEndpoint: 'https://auth.example.com/token?api_key=k3y-in-query',
      clientId: 'svc',
      clientSecret: SECRET,
    });

    expect(JSON.stringify(client)).toContain('https://auth.example.com/token');
    expect(JSON.stringify(client)).not.toContain('k3y-in-query');
    expect(inspect(client)).not.toContain('k3y-in-query');
    await client.close();
  });
});
