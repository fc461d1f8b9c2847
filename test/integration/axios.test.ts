import { Readable } from 'node:stream';
import axios, { AxiosError } from 'axios';
import { describe, expect, it } from 'vitest';
import { authorizeAxios } from '../../src/axios.js';
import { ClientCredentialsClient, TokenError } from '../../src/index.js';
import { rejectionOf, useClients } from '../helpers/core.js';
import { handClock } from '../helpers/hand-clock.js';
import { useLoopbackApi } from '../helpers/loopback-api.js';

const newClient = useClients({ clientId: 'svc-x', clientSecret: 'axios-test-secret', retry: false, allowInsecureHttp: true });
const startApi = useLoopbackApi();

async function setup() {
  const servers = await startApi();
  const client = newClient({ tokenEndpoint: servers.tokenUrl });
  const instance = axios.create({ baseURL: servers.api.url('/v1'), adapter: 'http' });
  const eject = authorizeAxios(instance, client, { origins: [servers.api.origin] });
  return Object.assign(servers, { client, instance, eject });
}

describe('m2m-token/axios authorizeAxios()', () => {
  it('adds the Authorization header to requests whose baseURL + url is a listed origin', async () => {
    const { api, instance } = await setup();

    const res = await instance.get('/orders');

    expect(res.data).toEqual({ ok: true, body: '' });
    expect(api.requests.map((r) => [r.path, r.authorization])).toEqual([['/v1/orders', 'Bearer tok-1']]);
  });

  it('leaves requests to other origins untouched: no token, the caller’s own header as it was', async () => {
    const { other, instance, issued } = await setup();

    await instance.get(other.url('/x'), { headers: { authorization: 'Basic own' } });

    expect(other.requests.map((r) => r.authorization)).toEqual(['Basic own']);
    expect(issued()).toBe(0);
  });

  it('after a 401 for the token it sent, drops that token and sends once more with a new one, data included', async () => {
    const state = await setup();
    await state.instance.get('/warm');
    state.accepts = (token) => token !== 'tok-1';

    const res = await state.instance.post('/orders', { id: 1 });

    expect(res.status).toBe(200);
    expect(state.api.requests.slice(1).map((r) => [r.authorization, r.body])).toEqual([
      ['Bearer tok-1', '{"id":1}'],
      ['Bearer tok-2', '{"id":1}'],
    ]);
  });

  it('50 concurrent requests that all get a 401 for one stale token cause exactly one token request; all 50 succeed on the resend', async () => {
    const state = await setup();
    await state.instance.get('/warm');
    state.accepts = (token) => token !== 'tok-1';

    const responses = await Promise.all(Array.from({ length: 50 }, (_, i) => state.instance.get(`/o/${i}`)));

    expect(responses.map((r) => r.status)).toEqual(Array(50).fill(200));
    expect(state.issued()).toBe(2);
    expect(state.api.requests.filter((r) => r.authorization === 'Bearer tok-1')).toHaveLength(51);
    expect(state.api.requests.filter((r) => r.authorization === 'Bearer tok-2')).toHaveLength(50);
  });

  it('sends once more only: a second 401 rejects with the AxiosError', async () => {
    const state = await setup();
    state.accepts = () => false;

    const error = await rejectionOf(state.instance.get('/orders'));

    expect(error).toBeInstanceOf(AxiosError);
    expect(error.response.status).toBe(401);
    expect(state.api.requests.map((r) => r.authorization)).toEqual(['Bearer tok-1', 'Bearer tok-2']);
  });

  it('sends once more only, even when refusals are far apart (no pause): the second 401 rejects', async () => {
    const state = await startApi();
    const clock = handClock();
    const client = new ClientCredentialsClient(
      { tokenEndpoint: state.tokenUrl, clientId: 'svc-x', clientSecret: 's', retry: false, allowInsecureHttp: true },
      clock,
    );
    const instance = axios.create({ adapter: 'http' });
    authorizeAxios(instance, client, { origins: [state.api.origin] });
    // Each refusal comes 11 s after the last: the replacement of a refused token is not protected by the pause.
    state.accepts = () => {
      clock.advance(11_000);
      return false;
    };
    try {
      const error = await rejectionOf(instance.get(state.api.url('/o')));

      expect(error.response.status).toBe(401);
      expect(state.api.requests.map((r) => r.authorization)).toEqual(['Bearer tok-1', 'Bearer tok-2']);
    } finally {
      await client.close();
    }
  });

  it('a 401 with another error (insufficient_scope) is not answered with a new token', async () => {
    const state = await setup();
    state.accepts = () => false;
    state.challenge = 'Bearer error="insufficient_scope"';

    await rejectionOf(state.instance.get('/admin'));

    expect(state.api.requests).toHaveLength(1);
    expect(state.issued()).toBe(1);
  });

  it('does not resend stream data: the 401 goes back to the caller', async () => {
    const state = await setup();
    state.accepts = () => false;

    const error = await rejectionOf(state.instance.post('/upload', Readable.from(['x'])));

    expect(error.response.status).toBe(401);
    expect(state.api.requests).toHaveLength(1);
  });

  it('rejects with the TokenError when no token can be had, sending nothing to the API', async () => {
    const { api } = await startApi();
    const client = newClient({ tokenEndpoint: api.url('/not-a-token-endpoint') });
    const instance = axios.create({ adapter: 'http' });
    authorizeAxios(instance, client, { origins: [api.origin] });

    const error = await rejectionOf(instance.get(api.url('/orders')));

    expect(error).toBeInstanceOf(TokenError);
    expect(api.requests.map((r) => r.path)).toEqual(['/not-a-token-endpoint']);
  });

  it('the returned function removes the interceptors', async () => {
    const { api, instance, eject } = await setup();
    eject();

    await rejectionOf(instance.get('/orders'));

    expect(api.requests.map((r) => r.authorization)).toEqual([undefined]);
  });

  it('requires origins, an axios instance and a client', async () => {
    const { client, instance } = await setup();
    expect(() => authorizeAxios(instance, client, {} as never)).toThrow(/`origins` is required/);
    expect(() => authorizeAxios(instance, client, { origins: ['nope'] })).toThrow(/not a URL/);
    expect(() => authorizeAxios({} as never, client, { origins: ['https://a.example'] })).toThrow(/axios instance/);
    expect(() => authorizeAxios(instance, {} as never, { origins: ['https://a.example'] })).toThrow(TypeError);
  });
});
