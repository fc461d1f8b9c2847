/**
 * Discovery follows redirects of the metadata URL within its origin (Django OAuth Toolkit redirects
 * `/o/.well-known/openid-configuration` to the same path with a trailing slash), at most 5; a redirect
 * to another origin is refused, and the issuer check is unchanged.
 */
import { http, HttpResponse } from 'msw';
import { describe, expect, it } from 'vitest';
import { TokenError } from '../../src/index.js';
import { tokenEndpoint, useMswServer } from '../helpers/msw.js';
import { rejectionOf, useClients } from '../helpers/core.js';

const server = useMswServer();
const makeClient = useClients();

const ORIGIN = 'https://dot.example.com';
const ISSUER = `${ORIGIN}/o`;
const TOKEN = `${ORIGIN}/o/token/`;
const SLASHLESS = `${ISSUER}/.well-known/openid-configuration`;

/** DOT's layout: no RFC 8414 document; the OIDC one only at the trailing-slash path, a redirect without it. */
function dotLike(location: string, metadata: Record<string, unknown> = { issuer: ISSUER, token_endpoint: TOKEN }, status = 301) {
  const requests: string[] = [];
  const token = tokenEndpoint(undefined, TOKEN);
  server.use(
    token.handler,
    http.get(`${ORIGIN}/*`, ({ request }) => {
      requests.push(new URL(request.url).pathname);
      if (request.url === SLASHLESS) return new HttpResponse(null, { status, headers: { location } });
      if (request.url === `${SLASHLESS}/`) return HttpResponse.json(metadata);
      return new HttpResponse('not found', { status: 404 });
    }),
  );
  return { requests, token: token.seen };
}

const client = () => makeClient({ tokenEndpoint: undefined, issuer: ISSUER });

describe('discovery redirects', () => {
  it.each([301, 302, 307, 308])(
    'follows a same-origin %i to the trailing-slash document (relative Location), then uses its token endpoint',
    async (status) => {
      const seen = dotLike('/o/.well-known/openid-configuration/', undefined, status);

      expect((await client().getToken()).accessToken).toBe('tok-1');
      expect(seen.requests).toEqual([
        '/.well-known/oauth-authorization-server/o',
        '/.well-known/openid-configuration/o',
        '/o/.well-known/openid-configuration',
        '/o/.well-known/openid-configuration/',
      ]);
      expect(seen.token).toHaveLength(1);
    },
  );

  it('refuses a redirect to another origin (scheme, host or port): INVALID_RESPONSE with the 3xx status, no request there', async () => {
    for (const elsewhere of [
      'https://evil.example.com/o/.well-known/openid-configuration/',
      'http://dot.example.com/o/.well-known/openid-configuration/',
      'https://dot.example.com:8443/x',
    ]) {
      let followed = 0;
      server.use(
        http.get(`${new URL(elsewhere).origin}/*`, () => (followed++, HttpResponse.json({ issuer: ISSUER, token_endpoint: TOKEN }))),
      );
      dotLike(elsewhere);
      const error = await rejectionOf(client().getToken());
      expect(TokenError.is(error) && error.code).toBe('INVALID_RESPONSE');
      expect(error.status).toBe(301);
      expect(followed).toBe(0);
      server.resetHandlers();
    }
  });

  it('the redirected document must still name the configured issuer', async () => {
    dotLike(`${SLASHLESS}/`, { issuer: 'https://dot.example.com/other', token_endpoint: TOKEN });
    const error = await rejectionOf(client().getToken());
    expect(error).toMatchObject({ code: 'INVALID_RESPONSE' });
    expect(error.message).toMatch(/is for issuer "https:\/\/dot\.example\.com\/other"/);
  });

  it('follows at most 5 redirects: a redirect loop fails with its 3xx after 6 requests to it', async () => {
    let hops = 0;
    server.use(
      http.get(`${ORIGIN}/.well-known/oauth-authorization-server/o`, () => new HttpResponse(null, { status: 404 })),
      http.get(`${ORIGIN}/.well-known/openid-configuration/o`, () => new HttpResponse(null, { status: 404 })),
      http.get(SLASHLESS, () => (hops++, new HttpResponse(null, { status: 302, headers: { location: SLASHLESS } }))),
    );
    const error = await rejectionOf(client().getToken());
    expect(error).toMatchObject({ code: 'INVALID_RESPONSE', status: 302 });
    expect(hops).toBe(6);
  });

  it('a token endpoint redirect is still not followed', async () => {
    let followed = 0;
    server.use(
      http.post(TOKEN, () => new HttpResponse(null, { status: 307, headers: { location: `${ORIGIN}/o/token2/` } })),
      http.post(`${ORIGIN}/o/token2/`, () => (followed++, HttpResponse.json({ access_token: 'x', token_type: 'Bearer' }))),
    );
    const error = await rejectionOf(makeClient({ tokenEndpoint: TOKEN }).getToken());
    expect(error).toMatchObject({ code: 'INVALID_RESPONSE', status: 307 });
    expect(followed).toBe(0);
  });
});
