import { inspect } from 'node:util';
import { HttpResponse } from 'msw';
import { describe, expect, it, vi } from 'vitest';
import { OAuthError, TokenError } from '../../src/index.js';
import { tokenEndpoint, useMswServer } from '../helpers/msw.js';
import { heldEndpoint, rejectionOf, tokenJson, useClients, within } from '../helpers/core.js';

const server = useMswServer();
const makeClient = useClients();

/** The token (or error) the client makes of a token endpoint answer. */
async function answer(reply: () => Response, options: Parameters<typeof makeClient>[0] = {}) {
  const { handler, seen } = tokenEndpoint(reply);
  server.use(handler);
  const client = makeClient(options);
  return { result: client.getToken(), seen };
}

async function invalidResponse(reply: () => Response, status: number, options: Parameters<typeof makeClient>[0] = {}) {
  const { result } = await answer(reply, options);
  const error = await rejectionOf(result);
  expect(error).toBeInstanceOf(TokenError);
  expect(error).not.toBeInstanceOf(OAuthError);
  expect(error.code).toBe('INVALID_RESPONSE');
  expect(error.status).toBe(status);
  return error as TokenError;
}

describe('successful token response', () => {
  it('returns access token, type, expiry and scope', async () => {
    vi.useFakeTimers({ toFake: ['Date'] });
    vi.setSystemTime(Date.UTC(2030, 0, 1));
    const { result } = await answer(() =>
      HttpResponse.json({ access_token: 'abc.def-ghi', token_type: 'Bearer', expires_in: 3600, scope: 'a b' }),
    );
    const token = await result;
    expect(token.accessToken).toBe('abc.def-ghi');
    expect(token.tokenType).toBe('Bearer');
    expect(token.expiresAt).toBe(Date.UTC(2030, 0, 1) + 3_600_000);
    expect(token.scope).toBe('a b');
    expect(token.extra).toEqual({});
  });

  it('accepts expires_in as a numeric string', async () => {
    vi.useFakeTimers({ toFake: ['Date'] });
    vi.setSystemTime(Date.UTC(2030, 0, 1));
    const { result } = await answer(() => HttpResponse.json({ access_token: 't', token_type: 'Bearer', expires_in: '3600' }));
    expect((await result).expiresAt).toBe(Date.UTC(2030, 0, 1) + 3_600_000);
  });

  it('uses defaultLifetime (300 000 ms by default) when expires_in is missing', async () => {
    vi.useFakeTimers({ toFake: ['Date'] });
    vi.setSystemTime(Date.UTC(2030, 0, 1));
    const { result } = await answer(() => HttpResponse.json({ access_token: 't', token_type: 'Bearer' }));
    expect((await result).expiresAt).toBe(Date.UTC(2030, 0, 1) + 300_000);
  });

  it('uses the defaultLifetime option when expires_in is missing', async () => {
    vi.useFakeTimers({ toFake: ['Date'] });
    vi.setSystemTime(Date.UTC(2030, 0, 1));
    const { result } = await answer(() => HttpResponse.json({ access_token: 't', token_type: 'Bearer' }), { defaultLifetime: 42_000 });
    expect((await result).expiresAt).toBe(Date.UTC(2030, 0, 1) + 42_000);
  });

  it.each([
    ['bearer', 'Bearer'],
    ['BEARER', 'Bearer'],
    ['Bearer', 'Bearer'],
    ['dpop', 'DPoP'],
    ['DPOP', 'DPoP'],
    ['N_A', 'N_A'],
  ])('normalises token_type %s to %s', async (sent, expected) => {
    const { result } = await answer(() => HttpResponse.json({ access_token: 't', token_type: sent, expires_in: 60 }));
    expect((await result).tokenType).toBe(expected);
  });

  it("keeps unknown members in token.extra (and not the token's own members)", async () => {
    const { result } = await answer(() =>
      HttpResponse.json({
        access_token: 't',
        token_type: 'Bearer',
        expires_in: 60,
        issued_token_type: 'urn:ietf:params:oauth:token-type:access_token',
        tenant: { id: 7 },
      }),
    );
    const token = await result;
    expect(token.extra).toEqual({ issued_token_type: 'urn:ietf:params:oauth:token-type:access_token', tenant: { id: 7 } });
  });

  it('reports the requested scope when the server omits scope', async () => {
    const { result } = await answer(() => tokenJson('t'), { scope: ['b', 'a'] });
    expect((await result).scope).toBe('b a');
  });

  it('dates expiresAt from when the request was sent, not when the answer arrived', async () => {
    vi.useFakeTimers({ toFake: ['Date'] });
    const sentAt = Date.UTC(2030, 0, 1);
    vi.setSystemTime(sentAt);
    const held = heldEndpoint();
    server.use(held.handler);
    const client = makeClient();
    const pending = client.getToken();
    const request = await held.arrived(1);
    vi.setSystemTime(sentAt + 7_000); // the server took 7 s to answer
    request.respond(tokenJson('t', 3600));
    expect((await pending).expiresAt).toBe(sentAt + 3_600_000);
  });

  it('keeps accessToken out of JSON.stringify and util.inspect while it stays readable and destructurable', async () => {
    const { result } = await answer(() => tokenJson('AT-hidden-in-logs-123', 60, { tenant: 'x' }));
    const token = await result;
    expect(JSON.stringify(token)).not.toContain('AT-hidden-in-logs-123');
    expect(inspect(token, { depth: 10 })).not.toContain('AT-hidden-in-logs-123');
    expect(String(token)).not.toContain('AT-hidden-in-logs-123');
    expect(Object.keys(token)).not.toContain('accessToken');
    expect(token.accessToken).toBe('AT-hidden-in-logs-123');
    const { accessToken, tokenType } = token;
    expect(accessToken).toBe('AT-hidden-in-logs-123');
    expect(tokenType).toBe('Bearer');
    expect(Object.isFrozen(token)).toBe(true);
  });
});

describe('invalid token responses', () => {
  it('requires access_token', async () => {
    const error = await invalidResponse(() => HttpResponse.json({ token_type: 'Bearer', expires_in: 60 }), 200);
    expect(error.message).toContain('access_token');
  });

  it.each([
    ['access_token not a string', { access_token: 42, token_type: 'Bearer' }],
    ['access_token empty', { access_token: '', token_type: 'Bearer' }],
    ['access_token with a space', { access_token: 'a b', token_type: 'Bearer' }],
    ['access_token with a line break', { access_token: 'a\r\nX-Evil: 1', token_type: 'Bearer' }],
    ['expires_in not numeric', { access_token: 't', expires_in: 'soon' }],
    ['expires_in negative', { access_token: 't', expires_in: -5 }],
    ['expires_in boolean', { access_token: 't', expires_in: true }],
    ['token_type not a string', { access_token: 't', token_type: 1 }],
    ['scope not a string', { access_token: 't', scope: ['a'] }],
  ])('refuses %s with INVALID_RESPONSE', async (_, body) => {
    await invalidResponse(() => HttpResponse.json(body), 200);
  });

  it('refuses a token that is already expired (expires_in 0)', async () => {
    await invalidResponse(() => tokenJson('t', 0), 200);
  });

  it.each([
    [
      'an unparseable body',
      () => new HttpResponse('{"access_token": "t"', { status: 200, headers: { 'content-type': 'application/json' } }),
    ],
    ['an HTML page', () => HttpResponse.html('<html><body>Sign in</body></html>')],
    ['a JSON array', () => HttpResponse.json([{ access_token: 't' }])],
    ['JSON null', () => HttpResponse.json(null)],
    ['a JSON string', () => HttpResponse.json('t')],
    ['an empty body', () => new HttpResponse(null, { status: 200 })],
  ])('refuses %s with INVALID_RESPONSE carrying the status', async (_, reply) => {
    await invalidResponse(reply, 200);
  });

  it('reports a non-OAuth error page with its status', async () => {
    await invalidResponse(() => HttpResponse.html('<h1>Not Found</h1>', { status: 404 }), 404);
  });

  it('refuses a response declared larger than maxResponseBytes', async () => {
    const body = JSON.stringify({ access_token: 't', token_type: 'Bearer', expires_in: 60, pad: 'x'.repeat(2000) });
    const error = await invalidResponse(
      () => new HttpResponse(body, { headers: { 'content-type': 'application/json', 'content-length': String(body.length) } }),
      200,
      { maxResponseBytes: 1000 },
    );
    expect(error.message).toContain('1000');
  });

  it('refuses a streamed response (no content-length) once it grows beyond maxResponseBytes', async () => {
    // A valid token response of ~4 000 bytes, sent in 400-byte chunks: only the size limit can refuse it.
    const body = new TextEncoder().encode(
      JSON.stringify({ access_token: 't', token_type: 'Bearer', expires_in: 60, pad: 'x'.repeat(4000) }),
    );
    const reply = () => {
      let offset = 0;
      const stream = new ReadableStream<Uint8Array>({
        pull(controller) {
          if (offset >= body.length) return controller.close();
          controller.enqueue(body.slice(offset, offset + 400));
          offset += 400;
        },
      });
      return new HttpResponse(stream, { headers: { 'content-type': 'application/json' } });
    };
    const error = await invalidResponse(reply, 200, { maxResponseBytes: 1000 });
    expect(error.message).toContain('larger than 1000 bytes');
    // Control: the same stream is accepted under a limit it fits in.
    const { result } = await answer(reply, { maxResponseBytes: 5000 });
    expect((await result).accessToken).toBe('t');
  });

  it("rejects an oversize body at once even when the body's cancellation never settles", async () => {
    const fetch = async () =>
      new Response(
        new ReadableStream<Uint8Array>({
          pull: (controller) => controller.enqueue(new TextEncoder().encode('x'.repeat(600))),
          cancel: () => new Promise<void>(() => {}),
        }),
      );
    const client = makeClient({ fetch, maxResponseBytes: 1000, timeout: 60_000 });
    const error = await rejectionOf(within(client.getToken(), 2000));
    expect(error.code).toBe('INVALID_RESPONSE');
  });

  it('accepts a response just within maxResponseBytes', async () => {
    const body = JSON.stringify({ access_token: 't', token_type: 'Bearer', expires_in: 60 });
    const { result } = await answer(() => new HttpResponse(body, { headers: { 'content-type': 'application/json' } }), {
      maxResponseBytes: Buffer.byteLength(body),
    });
    expect((await result).accessToken).toBe('t');
  });
});

describe('OAuth error responses', () => {
  it('turns an error body into an OAuthError with error, description, uri and status', async () => {
    const { result } = await answer(() =>
      HttpResponse.json(
        { error: 'invalid_scope', error_description: 'scope x is unknown', error_uri: 'https://docs.example.com/e' },
        { status: 400 },
      ),
    );
    const error = await rejectionOf(result);
    expect(error).toBeInstanceOf(OAuthError);
    expect(error).toBeInstanceOf(TokenError);
    expect(error).toBeInstanceOf(Error);
    expect(error.code).toBe('OAUTH_ERROR');
    expect(error.error).toBe('invalid_scope');
    expect(error.errorDescription).toBe('scope x is unknown');
    expect(error.errorUri).toBe('https://docs.example.com/e');
    expect(error.status).toBe(400);
    expect(error.name).toBe('OAuthError');
    expect(error.message).toContain('invalid_scope');
  });

  it('turns a 200 whose body has error into an OAuthError', async () => {
    const { result } = await answer(() => HttpResponse.json({ error: 'unauthorized_client' }, { status: 200 }));
    const error = await rejectionOf(result);
    expect(error).toBeInstanceOf(OAuthError);
    expect(error.error).toBe('unauthorized_client');
    expect(error.status).toBe(200);
    expect(error.errorDescription).toBeUndefined();
    expect(error.errorUri).toBeUndefined();
  });

  it('ignores non-string error_description and error_uri', async () => {
    const { result } = await answer(() =>
      HttpResponse.json({ error: 'invalid_request', error_description: 5, error_uri: {} }, { status: 400 }),
    );
    const error = await rejectionOf(result);
    expect(error).toBeInstanceOf(OAuthError);
    expect(error.errorDescription).toBeUndefined();
    expect(error.errorUri).toBeUndefined();
  });
});

describe('TokenError.is', () => {
  it('recognises TokenError and OAuthError, also from another copy of the package, and nothing else', async () => {
    const { result } = await answer(() => HttpResponse.json({ error: 'invalid_client' }, { status: 401 }));
    const error = await rejectionOf(result);
    expect(TokenError.is(error)).toBe(true);
    expect(TokenError.is(new TokenError('NETWORK', 'x'))).toBe(true);
    // Another copy brands its errors with the same registered symbol.
    const foreign = Object.assign(new Error('x'), { code: 'TIMEOUT' });
    Object.defineProperty(foreign, Symbol.for('m2m-token.TokenError'), { value: true });
    expect(TokenError.is(foreign)).toBe(true);
    expect(TokenError.is(new Error('x'))).toBe(false);
    expect(TokenError.is({ code: 'TIMEOUT', name: 'TokenError' })).toBe(false);
    expect(TokenError.is(null)).toBe(false);
    expect(TokenError.is('TokenError')).toBe(false);
  });
});

describe('declared response size', () => {
  it('refuses a response whose Content-Length exceeds maxResponseBytes without reading any of its body, and cancels it', async () => {
    // A small, valid token body behind a declared 10 MB: only the declared size can refuse it, and it
    // must do so before the first chunk is pulled.
    const body = new TextEncoder().encode(JSON.stringify({ access_token: 't', token_type: 'Bearer', expires_in: 60 }));
    const stream = { pulls: 0, cancelled: false };
    const fetch = async () =>
      new Response(
        new ReadableStream<Uint8Array>(
          {
            pull(controller) {
              stream.pulls++;
              controller.enqueue(body);
              controller.close();
            },
            cancel() {
              stream.cancelled = true;
            },
          },
          // Nothing is pulled before the client reads.
          { highWaterMark: 0 },
        ),
        { headers: { 'content-type': 'application/json', 'content-length': '10000000' } },
      );
    const client = makeClient({ fetch, maxResponseBytes: 1000 });

    const error = await rejectionOf(within(client.getToken(), 2000));

    expect(error).toBeInstanceOf(TokenError);
    expect(error.code).toBe('INVALID_RESPONSE');
    expect(error.message).toContain('larger than 1000 bytes');
    expect(stream.pulls).toBe(0);
    expect(stream.cancelled).toBe(true);
  });
});
