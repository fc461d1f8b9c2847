/**
 * Fuzzing through the client, with msw as a hostile authorization server: random token responses,
 * error responses that echo the client secret, random `Retry-After` on 503/429, and discovery documents
 * pointing the token endpoint at plain http:. The client hands out valid tokens or `TokenError`s with
 * the right code and status, never leaks the secret, keeps every retry delay within `maxDelay`, and
 * never sends anything to a non-loopback http: endpoint.
 */
import { inspect } from 'node:util';
import fc from 'fast-check';
import { http, HttpResponse } from 'msw';
import { setupServer } from 'msw/node';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { ClientCredentialsClient, OAuthError, TokenError, type ClientCredentialsOptions, type RetryEvent } from '../../src/index.js';
import { processTokenResponse } from '../../src/protocol/token-response.js';

// The client loads zod on its first response; this file also calls the parser directly.
import {
  FUZZ_CLIENT_ID,
  FUZZ_SECRET,
  TOKEN_RE,
  VISIBLE_ASCII_RE,
  anyBody,
  errorResponseBody,
  secretForms,
  tokenResponseBody,
  wellFormedTokenBody,
  withoutPollution,
} from './arbitraries.js';

const TOKEN_URL = 'https://auth.example.com/oauth2/token';
const ISSUER = 'https://auth.example.com';
const API = 'https://api.example.com/data';
const SECRET_FORMS = secretForms(FUZZ_CLIENT_ID, FUZZ_SECRET);

/** Requests no handler answered (msw errors on them): the http: endpoints must never get one. */
const unhandled: string[] = [];
const server = setupServer();
beforeAll(() =>
  server.listen({
    onUnhandledRequest(request, print) {
      unhandled.push(`${request.method} ${request.url}`);
      print.error();
    },
  }),
);
afterEach(() => {
  server.resetHandlers();
  unhandled.length = 0;
});
afterAll(() => server.close());

/** Runs `body` with a fresh client and fresh handlers; closes the client and drops the handlers after. */
async function withClient<T>(
  options: Partial<ClientCredentialsOptions>,
  body: (client: ClientCredentialsClient) => Promise<T>,
): Promise<T> {
  const client = new ClientCredentialsClient({
    tokenEndpoint: TOKEN_URL,
    clientId: FUZZ_CLIENT_ID,
    clientSecret: FUZZ_SECRET,
    retry: false,
    ...options,
  });
  try {
    return await body(client);
  } finally {
    await client.close();
    server.resetHandlers();
  }
}

async function rejectionOf(promise: Promise<unknown>): Promise<unknown> {
  try {
    await promise;
  } catch (error) {
    return error;
  }
  throw new Error('expected a rejection');
}

/** Everything an error shows: message, stack, fields, inspect and JSON, along the cause chain. */
function shown(error: unknown, depth = 0): string {
  if (depth > 10 || error === null || error === undefined) return '';
  if (typeof error !== 'object') return String(error);
  const e = error as Error & { errors?: unknown[] };
  return [
    String(e.message),
    String(e.stack),
    inspect(e, { depth: 10 }),
    JSON.stringify(e) ?? '',
    shown(e.cause, depth + 1),
    ...(e.errors ?? []).map((x) => shown(x, depth + 1)),
  ].join('\n');
}

function parse(text: string): Record<string, unknown> | undefined {
  try {
    const body: unknown = JSON.parse(text);
    return typeof body === 'object' && body !== null && !Array.isArray(body) ? (body as Record<string, unknown>) : undefined;
  } catch {
    return undefined;
  }
}

describe('the client against a fuzzed token endpoint', () => {
  it('hands out a valid token or rejects with the TokenError the response calls for, and its fetch copes with it', async () => {
    let tokens = 0;
    await withoutPollution(() =>
      fc.assert(
        fc.asyncProperty(
          fc.oneof(
            { weight: 2, arbitrary: wellFormedTokenBody },
            { weight: 2, arbitrary: tokenResponseBody },
            { weight: 1, arbitrary: anyBody },
          ),
          async (text) => {
            await withClient({}, async (client) => {
              let authorization: string | null = null;
              server.use(
                http.post(TOKEN_URL, () => new HttpResponse(text, { headers: { 'content-type': 'application/json' } })),
                http.get(API, ({ request }) => {
                  authorization = request.headers.get('authorization');
                  return new HttpResponse('no', { status: 401, headers: { 'www-authenticate': 'Bearer error="invalid_token"' } });
                }),
              );
              // What the pure function makes of the same body: the client must agree with it.
              let expected: { accessToken: string; tokenType: string; lifetime: number } | TokenError;
              const sentAt = Date.now();
              try {
                const t = processTokenResponse(
                  { status: 200, headers: new Headers(), text },
                  { sentAt, defaultLifetime: 300_000, requestedScope: undefined },
                );
                expected = { accessToken: t.accessToken, tokenType: t.tokenType, lifetime: t.expiresAt - sentAt };
              } catch (error) {
                expected = error as TokenError;
              }
              let token;
              try {
                token = await client.getToken();
              } catch (error) {
                expect(error).toBeInstanceOf(TokenError);
                const e = error as TokenError;
                expect(['INVALID_RESPONSE', 'OAUTH_ERROR']).toContain(e.code);
                expect(e.status).toBe(200);
                if (expected instanceof TokenError) expect(e.code).toBe(expected.code);
                else expect(expected.lifetime).toBeLessThan(1000); // the only valid token the client refuses: one expired before it can be used
                return;
              }
              tokens++;
              expect(expected).not.toBeInstanceOf(TokenError);
              const { accessToken, tokenType } = expected as { accessToken: string; tokenType: string };
              expect(token.accessToken).toBe(accessToken);
              expect(token.accessToken).toMatch(VISIBLE_ASCII_RE);
              expect(token.tokenType).toBe(tokenType);
              expect(token.tokenType).toMatch(TOKEN_RE);
              expect(Number.isFinite(token.expiresAt)).toBe(true);
              expect(token.expiresAt).toBeGreaterThan(Date.now());
              expect(Object.getPrototypeOf(token.extra)).toBe(Object.prototype);
              // The fetch wrapper sends exactly `<type> <token>`, and survives the 401 retry with whatever type it got.
              const response = await client.fetch(API);
              expect(response.status).toBe(401);
              expect(authorization).toBe(`${tokenType} ${accessToken}`);
            });
          },
        ),
        { numRuns: 150 },
      ),
    );
    expect(tokens).toBeGreaterThan(30);
  });

  it('turns 4xx/5xx answers into an OAuthError or INVALID_RESPONSE with their status, never showing the client secret', async () => {
    let echoed = 0;
    await withoutPollution(() =>
      fc.assert(
        fc.asyncProperty(
          fc.oneof(fc.integer({ min: 400, max: 599 }), fc.constantFrom(400, 401, 403, 500, 503)),
          errorResponseBody(SECRET_FORMS),
          fc.constantFrom('client_secret_basic', 'client_secret_post') as fc.Arbitrary<'client_secret_basic' | 'client_secret_post'>,
          async (status, text, clientAuth) => {
            await withClient({ clientAuth }, async (client) => {
              server.use(http.post(TOKEN_URL, () => new HttpResponse(text, { status, headers: { 'content-type': 'application/json' } })));
              const error = await rejectionOf(client.getToken());
              expect(error).toBeInstanceOf(TokenError);
              const e = error as TokenError;
              expect(e.status).toBe(status);
              const body = parse(text);
              const isOAuth = body !== undefined && typeof body.error === 'string' && body.error !== '';
              expect(e.code).toBe(isOAuth ? 'OAUTH_ERROR' : 'INVALID_RESPONSE');
              const all = shown(e);
              for (const form of SECRET_FORMS) expect(all).not.toContain(form);
              if (!isOAuth) return;
              expect(e).toBeInstanceOf(OAuthError);
              const o = e as OAuthError;
              const fields: [unknown, string | undefined][] = [
                [body.error, o.error],
                [body.error_description, o.errorDescription],
                [body.error_uri, o.errorUri],
              ];
              for (const [sent, kept] of fields) {
                for (const form of SECRET_FORMS) expect(kept ?? '').not.toContain(form);
                if (typeof sent !== 'string') expect(kept).toBeUndefined();
                else if (SECRET_FORMS.some((form) => sent.includes(form))) echoed++;
                // What does not echo the secret is kept as the server sent it.
                else expect(kept).toBe(sent);
              }
            });
          },
        ),
        { numRuns: 200 },
      ),
    );
    expect(echoed).toBeGreaterThan(10);
  });

  it('waits at most maxDelay between attempts whatever Retry-After says, and makes exactly 1 + retries attempts', async () => {
    const MAX_DELAY = 10;
    const headerValue = fc
      .oneof(
        fc.string({ unit: fc.constantFrom(...'0123456789'), minLength: 1, maxLength: 12 }),
        fc
          .date({ noInvalidDate: true, min: new Date('1000-01-01T00:00:00Z'), max: new Date('9999-12-31T23:59:59Z') })
          .map((d) => d.toUTCString()),
        fc.constantFrom('9999999999', '0', '-5', '1.5', 'Infinity', 'NaN', 'Fri, 31 Dec 9999 23:59:59 GMT', 'soon', ''),
        fc.string({ unit: fc.integer({ min: 0x20, max: 0x7e }).map((c) => String.fromCharCode(c)), maxLength: 30 }),
      )
      .filter((value) => {
        try {
          new Headers({ 'retry-after': value });
          return true;
        } catch {
          return false;
        }
      });
    await fc.assert(
      fc.asyncProperty(
        headerValue,
        fc.constantFrom(503, 429, 500),
        fc.oneof(anyBody, errorResponseBody([FUZZ_SECRET])),
        async (retryAfter, status, text) => {
          await withClient({ retry: { retries: 2, minDelay: 1, maxDelay: MAX_DELAY }, invalidClientBackoff: 0 }, async (client) => {
            let attempts = 0;
            server.use(
              http.post(TOKEN_URL, () => {
                attempts++;
                return new HttpResponse(text, { status, headers: { 'retry-after': retryAfter } });
              }),
            );
            const retries: RetryEvent[] = [];
            client.on('retry', (event) => retries.push(event));
            const started = performance.now();
            const error = await rejectionOf(client.getToken());
            const elapsed = performance.now() - started;
            expect(error).toBeInstanceOf(TokenError);
            expect((error as TokenError).status).toBe(status);
            expect(attempts).toBe(3);
            expect(retries.map((r) => r.attempt)).toEqual([1, 2]);
            for (const { delay } of retries) {
              expect(Number.isInteger(delay)).toBe(true);
              expect(delay).toBeGreaterThanOrEqual(0);
              expect(delay).toBeLessThanOrEqual(MAX_DELAY);
            }
            // A hang detector, not a benchmark: two capped waits plus three mocked requests.
            expect(elapsed).toBeLessThan(2000);
          });
        },
      ),
      { numRuns: 40 },
    );
  });
});

describe('the client against fuzzed discovery documents', () => {
  const NON_LOOPBACK = [
    'auth.example.com',
    '10.0.0.1',
    '127.0.0.1.nip.io',
    'localhost.evil.example',
    '[::2]',
    '128.0.0.1',
    '0.0.0.0',
    '[::ffff:10.0.0.1]',
    'evil.example:80',
  ];

  it('never accepts (nor sends anything to) an http: token endpoint on a non-loopback host', async () => {
    const host = fc.oneof(fc.constantFrom(...NON_LOOPBACK), fc.domain());
    const path = fc.constantFrom('/token', '/oauth2/token', '', '/t?x=1', '/%2e%2e/token');
    await withoutPollution(() =>
      fc.assert(
        fc.asyncProperty(host, path, fc.constantFrom('http:', 'HTTP:', 'http:'), async (h, p, scheme) => {
          const tokenEndpoint = `${scheme}//${h}${p}`;
          fc.pre(!/^(localhost|127\.|\[::1\])/.test(new URL(tokenEndpoint).hostname));
          await withClient({ tokenEndpoint: undefined, issuer: ISSUER }, async (client) => {
            server.use(
              http.get(`${ISSUER}/.well-known/oauth-authorization-server`, () =>
                HttpResponse.json({ issuer: ISSUER, token_endpoint: tokenEndpoint }),
              ),
            );
            const error = await rejectionOf(client.getToken());
            expect(error).toBeInstanceOf(TokenError);
            expect((error as TokenError).code).toBe('INVALID_RESPONSE');
            expect((error as TokenError).message).toMatch(/token_endpoint/);
            expect(unhandled).toEqual([]);
          });
        }),
        { numRuns: 100 },
      ),
    );
  });

  it('does accept a loopback http: token endpoint (the property above can tell them apart)', async () => {
    await withClient({ tokenEndpoint: undefined, issuer: ISSUER }, async (client) => {
      server.use(
        http.get(`${ISSUER}/.well-known/oauth-authorization-server`, () =>
          HttpResponse.json({ issuer: ISSUER, token_endpoint: 'http://127.0.0.1:9/token' }),
        ),
        http.post('http://127.0.0.1:9/token', () => HttpResponse.json({ access_token: 'loopback', token_type: 'Bearer', expires_in: 60 })),
      );
      expect((await client.getToken()).accessToken).toBe('loopback');
    });
  });
});
