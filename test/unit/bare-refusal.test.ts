/**
 * A bare 401 / 403 from the token endpoint (no OAuth error body: one server answers bad credentials with
 * an empty 403) is a credential refusal: not retried, and the invalid_client fast-fail applies.
 */
import { http, HttpResponse } from 'msw';
import { describe, expect, it } from 'vitest';
import { ClientCredentialsClient, OAuthError, TokenError } from '../../src/index.js';
import { ISSUER, tokenEndpoint, useMswServer } from '../helpers/msw.js';
import { rejectionOf, TEST_CLIENT } from '../helpers/core.js';
import { handClock } from '../helpers/hand-clock.js';

const server = useMswServer();
const RETRYING = { ...TEST_CLIENT, retry: { retries: 3, minDelay: 0, maxDelay: 0 }, invalidClientBackoff: 5_000 };

async function withClient<T>(options: object, run: (client: ClientCredentialsClient, clock: ReturnType<typeof handClock>) => Promise<T>) {
  const clock = handClock();
  const client = new ClientCredentialsClient(options as never, clock);
  try {
    return await run(client, clock);
  } finally {
    await client.close();
  }
}

describe('a bare 401 or 403 from the token endpoint', () => {
  it.each([
    ['an empty 403', () => new HttpResponse(null, { status: 403 }), 403],
    ['an empty 401', () => new HttpResponse(null, { status: 401 }), 401],
    ['an HTML 401', () => new HttpResponse('<h1>Unauthorized</h1>', { status: 401, headers: { 'content-type': 'text/html' } }), 401],
  ] as const)(
    '%s: a TokenError INVALID_RESPONSE with its status, not retried, then the invalid_client fast-fail until the backoff ends',
    async (_, reply, status) => {
      const endpoint = tokenEndpoint(reply);
      server.use(endpoint.handler);
      await withClient(RETRYING, async (client, clock) => {
        const error = await rejectionOf(client.getToken());
        expect(TokenError.is(error)).toBe(true);
        expect(OAuthError.is(error)).toBe(false);
        expect(error).toMatchObject({ code: 'INVALID_RESPONSE', status });
        expect(endpoint.seen).toHaveLength(1);

        expect(await rejectionOf(client.getToken({ scope: 'other' }))).toBe(error);
        expect(endpoint.seen).toHaveLength(1);

        clock.advance(5_000);
        await rejectionOf(client.getToken());
        expect(endpoint.seen).toHaveLength(2);
      });
    },
  );

  it('a 403 with another OAuth error (unauthorized_client) is not a credential refusal: no fast-fail', async () => {
    const endpoint = tokenEndpoint(() => HttpResponse.json({ error: 'unauthorized_client' }, { status: 403 }));
    server.use(endpoint.handler);
    await withClient(RETRYING, async (client) => {
      await rejectionOf(client.getToken());
      await rejectionOf(client.getToken());
      expect(endpoint.seen).toHaveLength(2);
    });
  });

  it('a 401 from the metadata URL during discovery is not taken for a credential refusal: the next call asks again', async () => {
    let metadataRequests = 0;
    server.use(
      http.get(`${ISSUER}/*`, () => {
        metadataRequests++;
        return new HttpResponse(null, { status: 401 });
      }),
    );
    await withClient({ ...RETRYING, tokenEndpoint: undefined, issuer: ISSUER }, async (client) => {
      expect(await rejectionOf(client.getToken())).toMatchObject({ code: 'INVALID_RESPONSE', status: 401 });
      await rejectionOf(client.getToken());
      // Two metadata locations per discovery (RFC 8414, then OpenID Connect), two discoveries.
      expect(metadataRequests).toBe(4);
    });
  });

  it('a 500 with an empty body is still retried (only 401 / 403 are refusals)', async () => {
    const endpoint = tokenEndpoint((n) =>
      n === 1 ? new HttpResponse(null, { status: 500 }) : HttpResponse.json({ access_token: 'ok', expires_in: 60, token_type: 'Bearer' }),
    );
    server.use(endpoint.handler);
    await withClient(RETRYING, async (client) => {
      expect((await client.getToken()).accessToken).toBe('ok');
      expect(endpoint.seen).toHaveLength(2);
    });
  });
});
