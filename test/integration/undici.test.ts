import { Readable } from 'node:stream';
import { Agent, fetch as undiciFetch, getGlobalDispatcher, request, setGlobalDispatcher } from 'undici';
import { calculateJwkThumbprint, type JWK } from 'jose';
import { afterEach, describe, expect, it } from 'vitest';
import { TokenError } from '../../src/index.js';
import { authorize } from '../../src/undici.js';
import { ClientCredentialsClient } from '../../src/index.js';
import { rejectionOf, useClients } from '../helpers/core.js';
import { handClock } from '../helpers/hand-clock.js';
import { jwtHeader, startDPoPResourceServer } from '../helpers/bound-resource.js';
import { useLoopbackApi } from '../helpers/loopback-api.js';
import { sendJson, startServer } from '../helpers/resource.js';

const newClient = useClients({ clientId: 'svc-u', clientSecret: 'undici-test-secret', retry: false, allowInsecureHttp: true });
const startApi = useLoopbackApi();
const agents: Agent[] = [];
afterEach(async () => {
  await Promise.all(agents.splice(0).map((a) => a.close()));
});

async function setup() {
  const servers = await startApi();
  const client = newClient({ tokenEndpoint: servers.tokenUrl });
  const agent = new Agent();
  agents.push(agent);
  const dispatcher = agent.compose(authorize(client, { origins: [servers.api.origin] }));
  return Object.assign(servers, { client, dispatcher });
}

describe('m2m-token/undici authorize()', () => {
  it('adds the Authorization header to requests to a listed origin (undici.request)', async () => {
    const { api, dispatcher } = await setup();

    const res = await request(api.url('/orders'), { dispatcher });

    expect(res.statusCode).toBe(200);
    expect(await res.body.json()).toEqual({ ok: true, body: '' });
    expect(api.requests.map((r) => r.authorization)).toEqual(['Bearer tok-1']);
  });

  it('leaves requests to other origins untouched: no token, the caller’s own headers as they were', async () => {
    const { other, dispatcher, issued } = await setup();

    const res = await request(other.url('/x'), { dispatcher, headers: { authorization: 'Basic own' } });
    await res.body.dump();

    expect(other.requests.map((r) => r.authorization)).toEqual(['Basic own']);
    expect(issued()).toBe(0);
  });

  it('replaces an Authorization header the caller set for a listed origin', async () => {
    const { api, dispatcher } = await setup();

    await (await request(api.url('/o'), { dispatcher, headers: [['Authorization', 'Bearer forged']] as never })).body.dump();

    expect(api.requests.map((r) => r.authorization)).toEqual(['Bearer tok-1']);
  });

  it('after a 401 for the token it sent, drops that token and sends once more with a new one, body included', async () => {
    const state = await setup();
    await (await request(state.api.url('/warm'), { dispatcher: state.dispatcher })).body.dump();
    state.accepts = (token) => token !== 'tok-1';

    const res = await request(state.api.url('/orders'), { dispatcher: state.dispatcher, method: 'POST', body: 'order=1' });

    expect(res.statusCode).toBe(200);
    expect(await res.body.json()).toEqual({ ok: true, body: 'order=1' });
    expect(state.api.requests.slice(1).map((r) => [r.authorization, r.body])).toEqual([
      ['Bearer tok-1', 'order=1'],
      ['Bearer tok-2', 'order=1'],
    ]);
  });

  it('50 concurrent 401s for one stale token cause one token request, and all 50 succeed on the resend', async () => {
    const state = await setup();
    await (await request(state.api.url('/warm'), { dispatcher: state.dispatcher })).body.dump();
    state.accepts = (token) => token !== 'tok-1';

    const statuses = await Promise.all(
      Array.from({ length: 50 }, async (_, i) => {
        const res = await request(state.api.url(`/o/${i}`), { dispatcher: state.dispatcher });
        await res.body.dump();
        return res.statusCode;
      }),
    );

    expect(statuses).toEqual(Array(50).fill(200));
    expect(state.issued()).toBe(2);
  });

  it('sends once more only: a second 401 goes back to the caller', async () => {
    const state = await setup();
    state.accepts = () => false;

    const res = await request(state.api.url('/o'), { dispatcher: state.dispatcher });

    expect(res.statusCode).toBe(401);
    expect(await res.body.json()).toEqual({ error: 'invalid_token' });
    expect(state.api.requests.map((r) => r.authorization)).toEqual(['Bearer tok-1', 'Bearer tok-2']);
  });

  it('does not resend a body it cannot replay (a stream): the 401 goes back to the caller', async () => {
    const state = await setup();
    state.accepts = () => false;

    const res = await request(state.api.url('/o'), { dispatcher: state.dispatcher, method: 'POST', body: Readable.from(['x']) });
    await res.body.dump();

    expect(res.statusCode).toBe(401);
    expect(state.api.requests).toHaveLength(1);
  });

  it('a 401 with another error (insufficient_scope) is not answered with a new token', async () => {
    const state = await setup();
    state.accepts = () => false;
    state.challenge = 'Bearer error="insufficient_scope", scope="admin"';

    const res = await request(state.api.url('/admin'), { dispatcher: state.dispatcher });
    await res.body.dump();

    expect(res.statusCode).toBe(401);
    expect(state.api.requests).toHaveLength(1);
    expect(state.issued()).toBe(1);
  });

  it('works with undici.fetch and a dispatcher, recovering from a 401 for a GET', async () => {
    const state = await setup();
    await (await undiciFetch(state.api.url('/warm'), { dispatcher: state.dispatcher })).text();
    state.accepts = (token) => token !== 'tok-1';

    const res = await undiciFetch(state.api.url('/orders'), { dispatcher: state.dispatcher });

    expect(res.status).toBe(200);
    expect(state.api.requests.map((r) => r.authorization)).toEqual(['Bearer tok-1', 'Bearer tok-1', 'Bearer tok-2']);
  });

  it('works as the global dispatcher (setGlobalDispatcher)', async () => {
    const { api, dispatcher } = await setup();
    const previous = getGlobalDispatcher();
    setGlobalDispatcher(dispatcher);
    try {
      const res = await request(api.url('/orders'));
      await res.body.dump();
      const viaFetch = await undiciFetch(api.url('/invoices'));
      await viaFetch.text();
    } finally {
      setGlobalDispatcher(previous);
    }

    expect(api.requests.map((r) => [r.path, r.authorization])).toEqual([
      ['/orders', 'Bearer tok-1'],
      ['/invoices', 'Bearer tok-1'],
    ]);
  });

  it('rejects the request with the TokenError when no token can be had, sending nothing', async () => {
    const { api } = await startApi();
    const client = newClient({ tokenEndpoint: api.url('/not-a-token-endpoint') });
    const agent = new Agent();
    agents.push(agent);
    const dispatcher = agent.compose(authorize(client, { origins: [api.origin] }));

    const error = await rejectionOf(request(api.url('/orders'), { dispatcher }));

    expect(error).toBeInstanceOf(TokenError);
    expect(api.requests.map((r) => r.path)).toEqual(['/not-a-token-endpoint']);
  });

  it('sends once more only, even when refusals are far apart (no pause): the second 401 goes back', async () => {
    const state = await startApi();
    const clock = handClock();
    const client = new ClientCredentialsClient(
      { tokenEndpoint: state.tokenUrl, clientId: 'svc-u', clientSecret: 's', retry: false, allowInsecureHttp: true },
      clock,
    );
    const agent = new Agent();
    agents.push(agent);
    const dispatcher = agent.compose(authorize(client, { origins: [state.api.origin] }));
    // Each refusal comes 11 s after the last: the replacement of a refused token is not protected by the pause.
    state.accepts = () => {
      clock.advance(11_000);
      return false;
    };
    try {
      const res = await request(state.api.url('/o'), { dispatcher });
      await res.body.dump();

      expect(res.statusCode).toBe(401);
      expect(state.api.requests.map((r) => r.authorization)).toEqual(['Bearer tok-1', 'Bearer tok-2']);
    } finally {
      await client.close();
    }
  });

  it('requires origins, and a client', async () => {
    const { client } = await setup();
    expect(() => authorize(client, {} as never)).toThrow(/`origins` is required/);
    expect(() => authorize(client, { origins: [] })).toThrow(/`origins` is required/);
    expect(() => authorize(client, { origins: ['not a url'] })).toThrow(/`origins` has an entry that is not a URL/);
    expect(() => authorize({} as never, { origins: ['https://api.example.com'] })).toThrow(TypeError);
  });

  it('DPoP: a proof per request for its method and URL; a 401 use_dpop_nonce gets one resend with the nonce', async () => {
    const jkts = new Map<string, string>();
    const tokens = await startServer((req, res) => {
      const token = `dpop-${jkts.size + 1}`;
      void calculateJwkThumbprint(jwtHeader(String(req.headers.dpop)).jwk as JWK).then((jkt) => {
        jkts.set(token, jkt);
        sendJson(res, 200, { access_token: token, token_type: 'DPoP', expires_in: 3600 });
      });
    });
    const rs = await startDPoPResourceServer({
      requireNonce: true,
      claims: async (t) => (jkts.has(t) ? { cnf: { jkt: jkts.get(t)! } } : undefined),
    });
    try {
      const client = newClient({ tokenEndpoint: tokens.url('/token'), dpop: true });
      const agent = new Agent();
      agents.push(agent);
      const dispatcher = agent.compose(authorize(client, { origins: [rs.url] }));

      const first = await request(`${rs.url}/orders?x=1`, { dispatcher, method: 'POST', body: 'a=1' });
      const second = await request(`${rs.url}/invoices`, { dispatcher });

      expect([first.statusCode, second.statusCode]).toEqual([200, 200]);
      await Promise.all([first.body.dump(), second.body.dump()]);
      expect(rs.seen.map((s) => [s.status, s.proof?.htm, s.proof?.htu, s.proof?.nonce])).toEqual([
        [401, 'POST', `${rs.url}/orders`, undefined],
        [200, 'POST', `${rs.url}/orders`, rs.nonce()],
        [200, 'GET', `${rs.url}/invoices`, rs.nonce()],
      ]);
    } finally {
      await Promise.all([rs.close(), tokens.close()]);
    }
  });
});
