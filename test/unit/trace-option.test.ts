/**
 * The `trace` option: every exchange with the authorization server is reported, redacted; resource
 * requests through client.fetch are not (they are the caller's own traffic).
 */
import { http, HttpResponse } from 'msw';
import { describe, expect, it } from 'vitest';
import type { TraceExchange } from '../../src/index.js';
import { SECRET, useClients } from '../helpers/core.js';
import { REVOKE_URL, revocationEndpoint, TOKEN_URL, tokenEndpoint, useMswServer } from '../helpers/msw.js';

const server = useMswServer();
const makeClient = useClients();

describe('the trace option', () => {
  it('reports the token and revocation exchanges with the secret and the token redacted, and not the resource request', async () => {
    server.use(
      tokenEndpoint().handler,
      revocationEndpoint().handler,
      http.get('https://api.example.com/orders', () => HttpResponse.json([])),
    );
    const exchanges: TraceExchange[] = [];
    const client = makeClient({ trace: (x) => exchanges.push(x), revocationEndpoint: REVOKE_URL });
    const { accessToken } = await client.getToken();
    expect((await client.fetch('https://api.example.com/orders')).status).toBe(200);
    await client.revoke();

    expect(exchanges.map((x) => `${x.method} ${x.url} ${x.status}`)).toEqual([`POST ${TOKEN_URL} 200`, `POST ${REVOKE_URL} 200`]);
    const printed = JSON.stringify(exchanges);
    expect(printed).not.toContain(SECRET);
    expect(printed).not.toContain(accessToken);
    expect(printed).not.toContain(Buffer.from(`svc-a:${SECRET}`).toString('base64'));
    expect(exchanges[0]!.requestHeaders.authorization).toMatch(/^Basic /);
  });

  it('is a TypeError naming the option when it is not a function', () => {
    expect(() => makeClient({ trace: 'yes' as never })).toThrow(/`trace`/);
  });
});
