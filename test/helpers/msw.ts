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
