/**
 * traceFetch: each exchange reported with every secret redacted by where it sits (never by knowing
 * the value), and the caller's response left intact. HTTP is faked with a plain function.
 */
import { describe, expect, it } from 'vitest';
import { formatExchange } from '../../src/cli/format-exchange.js';
import { REDACTED, redactBody, redactHeader, type TraceExchange, traceFetch } from '../../src/trace.js';

const SECRET = 'Sup3r-s3cret-value';

/** A fake fetch that answers every request with `response()` and records what it was called with. */
function fakeFetch(response: () => Response) {
  const calls: { input: unknown; init: RequestInit | undefined }[] = [];
  const fetch: typeof globalThis.fetch = async (input, init) => {
    calls.push({ input, init });
    return response();
  };
  return { fetch, calls };
}

const json =
  (body: unknown, headers: Record<string, string> = {}) =>
  () =>
    new Response(JSON.stringify(body), { status: 200, headers: { 'content-type': 'application/json', ...headers } });

async function traceOne(
  response: () => Response,
  input: string,
  init?: RequestInit,
): Promise<{ exchange: TraceExchange; response: Response }> {
  const seen: TraceExchange[] = [];
  const { fetch } = fakeFetch(response);
  const result = await traceFetch(fetch, (x) => seen.push(x))(input, init);
  expect(seen).toHaveLength(1);
  return { exchange: seen[0]!, response: result };
}

const form = (fields: Record<string, string>): RequestInit => ({
  method: 'POST',
  headers: { 'content-type': 'application/x-www-form-urlencoded' },
  body: new URLSearchParams(fields).toString(),
});

describe('traceFetch', () => {
  it('reports method, url, status, headers and bodies of an exchange', async () => {
    const { exchange } = await traceOne(
      json({ ok: true }, { date: 'Sun, 29 Nov 2026 18:00:00 GMT' }),
      'https://as.example/token',
      form({ grant_type: 'client_credentials', scope: 'a b' }),
    );
    expect(exchange).toMatchObject({
      method: 'POST',
      url: 'https://as.example/token',
      status: 200,
      requestHeaders: { 'content-type': 'application/x-www-form-urlencoded' },
      requestBody: 'grant_type=client_credentials&scope=a%20b',
      responseHeaders: { 'content-type': 'application/json', date: 'Sun, 29 Nov 2026 18:00:00 GMT' },
      responseBody: '{"ok":true}',
    });
    expect(exchange.durationMs).toEqual(expect.any(Number));
  });

  it('leaves the whole response body to the caller (the trace reads a clone)', async () => {
    const { response } = await traceOne(json({ access_token: SECRET }), 'https://as.example/token');
    expect(await response.json()).toEqual({ access_token: SECRET });
  });

  it.each([
    ['Basic', `Basic ${Buffer.from(`client:${SECRET}`).toString('base64')}`],
    ['Bearer', `Bearer ${SECRET}`],
    ['DPoP', `DPoP ${SECRET}`],
  ])('shows only the scheme of an Authorization header (%s)', async (scheme, value) => {
    const { exchange } = await traceOne(json({}), 'https://api.example/', {
      headers: { authorization: value, 'proxy-authorization': value },
    });
    expect(exchange.requestHeaders.authorization).toBe(`${scheme} ${REDACTED}`);
    expect(exchange.requestHeaders['proxy-authorization']).toBe(`${scheme} ${REDACTED}`);
  });

  it('redacts cookies sent and received', async () => {
    const { exchange } = await traceOne(json({}, { 'set-cookie': `session=${SECRET}` }), 'https://api.example/', {
      headers: { cookie: `session=${SECRET}` },
    });
    expect(exchange.requestHeaders.cookie).toBe(REDACTED);
    expect(exchange.responseHeaders['set-cookie']).toBe(REDACTED);
  });

  it("shows a DPoP proof's decoded JWS header and claims, never its signature or the proof itself", async () => {
    const header = Buffer.from(JSON.stringify({ typ: 'dpop+jwt', alg: 'ES256' })).toString('base64url');
    const claims = Buffer.from(JSON.stringify({ htm: 'POST', htu: 'https://as.example/token' })).toString('base64url');
    const proof = `${header}.${claims}.${SECRET}`;
    const { exchange } = await traceOne(json({}), 'https://as.example/token', { method: 'POST', headers: { dpop: proof } });
    expect(exchange.requestHeaders.dpop).toContain('"typ":"dpop+jwt"');
    expect(exchange.requestHeaders.dpop).toContain('"htm":"POST"');
    expect(exchange.requestHeaders.dpop).not.toContain(header);
  });

  it.each(['client_secret', 'client_assertion', 'token', 'refresh_token', 'assertion', 'password', 'code'])(
    'redacts the form field %s of a request body',
    async (field) => {
      const { exchange } = await traceOne(
        json({}),
        'https://as.example/token',
        form({ grant_type: 'client_credentials', [field]: SECRET }),
      );
      expect(exchange.requestBody).toBe(`grant_type=client_credentials&${field}=${REDACTED}`);
    },
  );

  it.each(['access_token', 'refresh_token', 'id_token'])(
    'redacts the JSON member %s of a response body, and keeps the others',
    async (field) => {
      const { exchange } = await traceOne(
        json({ [field]: SECRET, token_type: 'Bearer', expires_in: 300, scope: 'a' }),
        'https://as.example/token',
      );
      expect(JSON.parse(exchange.responseBody!)).toEqual({ [field]: REDACTED, token_type: 'Bearer', expires_in: 300, scope: 'a' });
    },
  );

  it('redacts secret members nested in JSON, and in a form-encoded response', async () => {
    const nested = await traceOne(json({ tokens: [{ access_token: SECRET }] }), 'https://as.example/x');
    expect(nested.exchange.responseBody).toBe(`{"tokens":[{"access_token":"${REDACTED}"}]}`);
    const formResponse = await traceOne(
      () => new Response(`access_token=${SECRET}&token_type=bearer`, { headers: { 'content-type': 'application/x-www-form-urlencoded' } }),
      'https://as.example/x',
    );
    expect(formResponse.exchange.responseBody).toBe(`access_token=${REDACTED}&token_type=bearer`);
  });

  it.each(['access_token', 'token', 'code', 'client_secret'])('redacts the query parameter %s of the url', async (name) => {
    const { exchange } = await traceOne(json({}), `https://api.example/cb?state=s1&${name}=${SECRET}`);
    expect(exchange.url).toBe(`https://api.example/cb?state=s1&${name}=${REDACTED}`);
  });

  it('does not show a body it cannot redact by field (a Request with a body, a stream)', async () => {
    const seen: TraceExchange[] = [];
    const { fetch } = fakeFetch(json({}));
    await traceFetch(fetch, (x) => seen.push(x))(
      new Request('https://as.example/token', { method: 'POST', body: `client_secret=${SECRET}` }),
    );
    expect(seen[0]!.method).toBe('POST');
    expect(seen[0]!.requestBody).toBe('[body of a stream, Blob or Request: not shown]');
    expect(JSON.stringify(seen[0])).not.toContain(SECRET);
  });

  it('redacts credentials in the url', async () => {
    const { exchange } = await traceOne(json({}), `https://user:${SECRET}@api.example/`);
    expect(exchange.url).toBe(`https://${REDACTED}@api.example/`);
  });

  it('does not show a JSON body that does not parse, nor one cut at the size limit', async () => {
    const broken = await traceOne(
      () => new Response(`{"access_token":"${SECRET}"`, { headers: { 'content-type': 'application/json' } }),
      'https://as.example/x',
    );
    expect(broken.exchange.responseBody).toMatch(/unparseable JSON: not shown/);
    const seen: TraceExchange[] = [];
    const big = JSON.stringify({ access_token: SECRET, padding: 'x'.repeat(1000) });
    const { fetch } = fakeFetch(() => new Response(big, { headers: { 'content-type': 'application/json' } }));
    const response = await traceFetch(fetch, (x) => seen.push(x), { maxBodyBytes: 64 })('https://as.example/x');
    expect(seen[0]!.responseBody).toMatch(/cut at the trace size limit: not shown/);
    expect(await response.text()).toBe(big);
  });

  it('reports a failed request with the error code from its cause, and rethrows the error', async () => {
    const seen: TraceExchange[] = [];
    const failure = new TypeError('fetch failed', {
      cause: Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:1'), { code: 'ECONNREFUSED' }),
    });
    const fetch: typeof globalThis.fetch = async () => {
      throw failure;
    };
    await expect(traceFetch(fetch, (x) => seen.push(x))('https://as.example/token', form({ client_secret: SECRET }))).rejects.toBe(failure);
    expect(seen[0]).toMatchObject({ status: undefined, error: 'fetch failed (ECONNREFUSED)', requestBody: `client_secret=${REDACTED}` });
  });

  it('keeps the request going when the sink throws', async () => {
    const { fetch } = fakeFetch(json({ ok: 1 }));
    const response = await traceFetch(fetch, () => {
      throw new Error('sink broke');
    })('https://as.example/');
    expect(response.status).toBe(200);
  });

  it('formats an exchange as > request and < response lines, with nothing secret', async () => {
    const { exchange } = await traceOne(json({ access_token: SECRET, token_type: 'Bearer' }), 'https://as.example/token', {
      ...form({ grant_type: 'client_credentials', client_secret: SECRET }),
      headers: { authorization: `Basic ${SECRET}`, 'content-type': 'application/x-www-form-urlencoded' },
    });
    const text = formatExchange(exchange);
    expect(text).toMatch(/^> POST https:\/\/as\.example\/token\n/);
    expect(text).toContain(`> authorization: Basic ${REDACTED}`);
    expect(text).toMatch(/^< 200 \(\d+ ms\)$/m);
    expect(text).not.toContain(SECRET);
  });

  it('reports a URLSearchParams body like a string one, and a response without a body as undefined', async () => {
    const { exchange } = await traceOne(() => new Response(null, { status: 204 }), 'https://as.example/revoke', {
      method: 'POST',
      body: new URLSearchParams({ token: SECRET, token_type_hint: 'access_token' }),
    });
    expect(exchange.requestBody).toBe(`token=${REDACTED}&token_type_hint=access_token`);
    expect(exchange.status).toBe(204);
    expect(exchange.responseBody).toBeUndefined();
  });

  it('formats a failed exchange with its error, and a thrown non-Error', async () => {
    const seen: TraceExchange[] = [];
    const fetch: typeof globalThis.fetch = async () => {
      throw 'plain failure';
    };
    await expect(traceFetch(fetch, (x) => seen.push(x))('https://as.example/token')).rejects.toBe('plain failure');
    expect(formatExchange(seen[0]!)).toMatch(/^> GET https:\/\/as\.example\/token\n\* failed after \d+ ms: plain failure$/);
  });
});

describe('redactHeader', () => {
  it.each([
    ['authorization', SECRET, REDACTED],
    ['dpop', SECRET, REDACTED],
    ['dpop', `a.${SECRET}.c`, REDACTED],
    ['x-api-key', SECRET, REDACTED],
    ['content-type', 'application/json', 'application/json'],
  ])('%s: %s', (name, value, shown) => {
    expect(redactHeader(name, value)).toBe(shown);
  });
});

describe('redactBody', () => {
  it.each([
    ['text/plain', 'hello', false, 'hello'],
    ['text/html; charset=utf-8', '<p>down</p>', true, '<p>down</p> […]'],
    ['application/octet-stream', 'abc', false, '[3 characters of application/octet-stream: not shown]'],
    [
      'application/x-www-form-urlencoded',
      `a=1&code=${SECRET}`,
      true,
      '[application/x-www-form-urlencoded cut at the trace size limit: not shown]',
    ],
    [null, `{"refresh_token":"${SECRET}"}`, false, `{"refresh_token":"${REDACTED}"}`],
    [null, `password=${SECRET}&user=a`, false, `password=${REDACTED}&user=a`],
    [null, `{"access_token":"${SECRET}"`, true, '[body cut at the trace size limit: not shown]'],
    ['application/problem+json', `{"id_token":"${SECRET}"}`, false, `{"id_token":"${REDACTED}"}`],
  ])('%s, truncated %s', (type, text, truncated, shown) => {
    expect(redactBody(text as string, type as string | null, truncated as boolean)).toBe(shown);
  });
});
