/**
 * `basicEncoding`: RFC 6749 §2.3.1 form-encodes the client id and secret inside the Basic credential;
 * some servers do not form-decode them. The fake servers here check the Basic credential the way such
 * a server does (split the decoded credential at the first `:`, compare as is) or the RFC way.
 */
import { HttpResponse } from 'msw';
import { describe, expect, it } from 'vitest';
import { ClientCredentialsClient, OAuthError, TokenError } from '../../src/index.js';
import { REVOKE_URL, revocationEndpoint, type SeenRequest, tokenEndpoint, useMswServer } from '../helpers/msw.js';
import { rejectionOf, TEST_CLIENT, tokenJson, useClients } from '../helpers/core.js';
import { handClock } from '../helpers/hand-clock.js';

const server = useMswServer();
const makeClient = useClients();

const ID = 'svc:a b';
const RESERVED_SECRET = 'k+y/9%2F:&= é';
const form = (s: string) => new URLSearchParams([['', s]]).toString().slice(1);
const RAW = `Basic ${Buffer.from(`${ID}:${RESERVED_SECRET}`).toString('base64')}`;
const FORM = `Basic ${Buffer.from(`${form(ID)}:${form(RESERVED_SECRET)}`).toString('base64')}`;

const invalidClient = () => HttpResponse.json({ error: 'invalid_client' }, { status: 401, headers: { 'www-authenticate': 'Basic' } });

/** A token endpoint that accepts only `accepted` as the Authorization header; else `refuse()`. */
function strictServer(accepted: string, refuse: () => Response = invalidClient) {
  const endpoint = tokenEndpoint((n, seen) => (seen.headers.get('authorization') === accepted ? tokenJson(`tok-${n}`) : refuse()));
  server.use(endpoint.handler);
  return endpoint.seen;
}

const authorizations = (seen: readonly SeenRequest[]) => seen.map((s) => s.headers.get('authorization'));

describe("basicEncoding 'auto' (the default)", () => {
  it('a server that does not form-decode: refused form-encoded, the raw credential is tried at once and then kept, for revocation too', async () => {
    const seen = strictServer(RAW);
    const revocation = revocationEndpoint(
      (_n, s) => new HttpResponse(null, { status: s.headers.get('authorization') === RAW ? 200 : 401 }),
    );
    server.use(revocation.handler);
    const client = makeClient({ clientId: ID, clientSecret: RESERVED_SECRET, revocationEndpoint: REVOKE_URL });

    expect((await client.getToken()).accessToken).toBe('tok-2');
    await client.getToken({ forceRefresh: true });
    await client.revoke();

    expect(authorizations(seen)).toEqual([FORM, RAW, RAW]);
    expect(authorizations(revocation.seen)).toEqual([RAW]);
  });

  it('a bare 401 (no OAuth error body) to the form-encoded credential also gets the raw retry', async () => {
    const seen = strictServer(RAW, () => new HttpResponse(null, { status: 401 }));
    const client = makeClient({ clientId: ID, clientSecret: RESERVED_SECRET });

    await client.getToken();

    expect(authorizations(seen)).toEqual([FORM, RAW]);
  });

  it('a server that form-decodes (RFC 6749): one request; form is kept, and a later refusal is not retried raw', async () => {
    let refuse = false;
    const endpoint = tokenEndpoint((n, s) =>
      !refuse && s.headers.get('authorization') === FORM ? tokenJson(`tok-${n}`) : invalidClient(),
    );
    server.use(endpoint.handler);
    const client = makeClient({ clientId: ID, clientSecret: RESERVED_SECRET });

    await client.getToken();
    refuse = true;
    const error = await rejectionOf(client.getToken({ forceRefresh: true }));

    expect((error as OAuthError).error).toBe('invalid_client');
    expect(authorizations(endpoint.seen)).toEqual([FORM, FORM]);
  });

  it('credentials that form-encoding leaves unchanged are not sent twice', async () => {
    const seen = strictServer('Basic nothing-matches');
    const error = await rejectionOf(makeClient({ clientId: 'svc-a', clientSecret: 'plain-Secret_1.*' }).getToken());

    expect(OAuthError.is(error) && error.error).toBe('invalid_client');
    expect(seen).toHaveLength(1);
  });

  it('both refused: the form-encoded answer is the error, the invalid_client backoff holds, then both are tried again', async () => {
    const seen = strictServer('Basic nothing-matches');
    const clock = handClock();
    const client = new ClientCredentialsClient(
      { ...TEST_CLIENT, clientId: ID, clientSecret: RESERVED_SECRET, invalidClientBackoff: 5_000 } as never,
      clock,
    );
    try {
      const error = await rejectionOf(client.getToken());
      expect(OAuthError.is(error) && error.error).toBe('invalid_client');
      expect(await rejectionOf(client.getToken())).toBe(error);
      expect(authorizations(seen)).toEqual([FORM, RAW]);

      clock.advance(5_000);
      await rejectionOf(client.getToken());
      expect(authorizations(seen)).toEqual([FORM, RAW, FORM, RAW]);
    } finally {
      await client.close();
    }
  });

  it('a raw retry is only for client_secret_basic: client_secret_post is refused once', async () => {
    const seen = strictServer(RAW);
    await rejectionOf(makeClient({ clientId: ID, clientSecret: RESERVED_SECRET, clientAuth: 'client_secret_post' }).getToken());
    expect(seen).toHaveLength(1);
  });
});

describe("basicEncoding 'form' and 'raw'", () => {
  it("'form' never tries the raw credential", async () => {
    const seen = strictServer(RAW);
    const error = await rejectionOf(makeClient({ clientId: ID, clientSecret: RESERVED_SECRET, basicEncoding: 'form' }).getToken());
    expect(OAuthError.is(error) && error.error).toBe('invalid_client');
    expect(authorizations(seen)).toEqual([FORM]);
  });

  it("'raw' sends the raw credential from the first request, and does not fall back to form", async () => {
    const accepting = strictServer(RAW);
    await makeClient({ clientId: ID, clientSecret: RESERVED_SECRET, basicEncoding: 'raw' }).getToken();
    expect(authorizations(accepting)).toEqual([RAW]);

    server.resetHandlers();
    const refusing = strictServer(FORM);
    await rejectionOf(makeClient({ clientId: ID, clientSecret: RESERVED_SECRET, basicEncoding: 'raw' }).getToken());
    expect(authorizations(refusing)).toEqual([RAW]);
  });

  it('anything else is a TypeError naming basicEncoding', () => {
    expect(() => makeClient({ basicEncoding: 'utf8' as never })).toThrow(/`basicEncoding`/);
    expect(() => makeClient({ basicEncoding: 'auto' })).not.toThrow();
  });

  it('the raw credential is redacted from errors like the form-encoded one', async () => {
    const rawCredential = RAW.slice('Basic '.length);
    strictServer('Basic nothing-matches', () =>
      HttpResponse.json({ error: 'invalid_client', error_description: `got ${rawCredential}` }, { status: 401 }),
    );
    const error = await rejectionOf(makeClient({ clientId: ID, clientSecret: RESERVED_SECRET, basicEncoding: 'raw' }).getToken());
    expect(TokenError.is(error)).toBe(true);
    expect((error as OAuthError).errorDescription).not.toContain(rawCredential);
  });
});
