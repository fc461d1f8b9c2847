import { http, HttpResponse } from 'msw';
import { setupServer } from 'msw/node';
import { afterAll, afterEach, beforeAll } from 'vitest';

/** The msw server of a test file: unexpected requests fail the test; handlers reset after each test. */
export function useMswServer() {
  const server = setupServer();
  beforeAll(() => server.listen({ onUnhandledRequest: 'error' }));
  afterEach(() => server.resetHandlers());
  afterAll(() => server.close());
  return server;
}

export const TOKEN_URL = 'https://auth.example.com/oauth2/token';
export const REVOKE_URL = 'https://auth.example.com/oauth2/revoke';
export const ISSUER = 'https://auth.example.com';

/** A recorded token request: what the client sent. */
export interface SeenRequest {
  readonly headers: Headers;
  readonly form: URLSearchParams;
  readonly method: string;
}

/**
 * A token endpoint handler that records every request and answers with `reply(n)` (n = 1-based count),
 * by default a fresh bearer token `tok-n` valid for an hour.
 */
export function tokenEndpoint(
  reply: (n: number, seen: SeenRequest) => Response | Promise<Response> = (n) =>
    HttpResponse.json({ access_token: `tok-${n}`, token_type: 'Bearer', expires_in: 3600 }),
  url = TOKEN_URL,
) {
  const seen: SeenRequest[] = [];
  const handler = http.post(url, async ({ request }) => {
    const entry = { headers: request.headers, form: new URLSearchParams(await request.text()), method: request.method };
    seen.push(entry);
    return reply(seen.length, entry);
  });
  return { handler, seen };
}

/** Resolves once the client abandons `request` (its signal aborts): at once if it already has. */
export function abandoned(request: Request): Promise<void> {
  if (request.signal.aborted) return Promise.resolve();
  return new Promise((resolve) => request.signal.addEventListener('abort', () => resolve(), { once: true }));
}

/**
 * A handler for POST `url` that never answers: each request is recorded, then held until the client
 * abandons it (timeout, abort, close), and only then gets a network error so the handler ends.
 */
export function hangingEndpoint(url = TOKEN_URL) {
  const seen: SeenRequest[] = [];
  const handler = http.post(url, async ({ request }) => {
    seen.push({ headers: request.headers, form: new URLSearchParams(await request.text()), method: request.method });
    await abandoned(request);
    return HttpResponse.error();
  });
  return { handler, seen };
}

/** A revocation request (RFC 7009) as {@link revocationEndpoint} saw it. */
export interface SeenRevocation extends SeenRequest {
  /** The `token` parameter (`''` when absent). */
  readonly token: string;
}

/**
 * A revocation endpoint handler for POST `url` that records every request and answers with
 * `reply(n, seen)` (n = 1-based count), by default 200 with an empty body. `tokens` lists the `token`
 * parameters in the order they came.
 */
export function revocationEndpoint(
  reply: (n: number, seen: SeenRevocation) => Response | Promise<Response> = () => new HttpResponse(null, { status: 200 }),
  url = REVOKE_URL,
) {
  const seen: SeenRevocation[] = [];
  const tokens: string[] = [];
  const handler = http.post(url, async ({ request }) => {
    const form = new URLSearchParams(await request.text());
    const entry: SeenRevocation = { headers: request.headers, form, method: request.method, token: form.get('token') ?? '' };
    seen.push(entry);
    tokens.push(entry.token);
    return reply(seen.length, entry);
  });
  return { handler, seen, tokens };
}
