import { http, HttpResponse } from 'msw';
import { describe, expect, it, vi } from 'vitest';
import { ClientCredentialsClient, OAuthError, TokenError } from '../../src/index.js';
import { deferred, rejectionOf, useClients, within } from '../helpers/core.js';
import { abandoned, REVOKE_URL, revocationEndpoint, TOKEN_URL, tokenEndpoint, useMswServer } from '../helpers/msw.js';
import { API, barrier, RESOURCE_CLIENT, RESOURCE_TEST_SECRET, resourceEndpoint } from '../helpers/resource.js';

const server = useMswServer();
const newClient = useClients(RESOURCE_CLIENT);

/** A client holding one token for each of `scopes` (tok-1, tok-2, … in order). */
async function clientHolding(scopes: string[], options: Parameters<typeof newClient>[0] = {}) {
  const client = newClient({ revocationEndpoint: REVOKE_URL, ...options });
  for (const scope of scopes) await client.getToken({ scope });
  return client;
}

describe('close({ revoke: true })', () => {
  it('revokes every held token, all in flight at the same time', async () => {
    const together = barrier(3, 2000);
    const revocation = revocationEndpoint(async () => {
      const allArrived = await together.arrive();
      return new HttpResponse(allArrived ? null : 'sequential', { status: allArrived ? 200 : 400 });
    });
    server.use(tokenEndpoint().handler, revocation.handler);
    const client = await clientHolding(['a', 'b', 'c']);

    const result = await client.close({ revoke: true });

    expect(result).toEqual({ revoked: 3, errors: [], skipped: 0 });
    expect(revocation.tokens.sort()).toEqual(['tok-1', 'tok-2', 'tok-3']);
  });

  it('revokes the tokens of fetch wrappers too', async () => {
    const revocation = revocationEndpoint();
    server.use(tokenEndpoint().handler, revocation.handler, resourceEndpoint(`${API}/*`).handler);
    const client = newClient({ revocationEndpoint: REVOKE_URL });
    await client.fetch(`${API}/a`);
    await client.createFetch({ scope: 'orders:write' })(`${API}/b`);

    const result = await client.close({ revoke: true });

    expect(result).toEqual({ revoked: 2, errors: [], skipped: 0 });
    expect(revocation.tokens.sort()).toEqual(['tok-1', 'tok-2']);
  });

  it('uses the client authentication of the token endpoint', async () => {
    const headers: (string | null)[] = [];
    server.use(
      tokenEndpoint().handler,
      http.post(REVOKE_URL, ({ request }) => {
        headers.push(request.headers.get('authorization'));
        return new HttpResponse(null, { status: 200 });
      }),
    );
    const client = await clientHolding(['a']);

    await client.close({ revoke: true });

    expect(headers).toEqual([`Basic ${Buffer.from(`svc-r:${RESOURCE_TEST_SECRET}`).toString('base64')}`]);
  });

  it('resolves within its timeout with TIMEOUT errors when the endpoint never answers', async () => {
    const arrived: string[] = [];
    server.use(
      tokenEndpoint().handler,
      http.post(REVOKE_URL, async ({ request }) => {
        arrived.push(new URLSearchParams(await request.text()).get('token') ?? '');
        // Never answers; only the client abandoning the request ends the handler.
        await abandoned(request);
        return HttpResponse.error();
      }),
    );
    const client = await clientHolding(['a', 'b'], { retry: { minDelay: 1, maxDelay: 5 } });

    const result = await within(client.close({ revoke: true, timeout: 200 }), 5000);

    expect(result.revoked).toBe(0);
    expect(result.errors).toHaveLength(2);
    for (const error of result.errors) {
      expect(error).toBeInstanceOf(TokenError);
      expect(error.code).toBe('TIMEOUT');
    }
    expect(arrived.sort()).toEqual(['tok-1', 'tok-2']);
  });

  it('reports failed revocations in errors and counts the others as revoked', async () => {
    const revocation = revocationEndpoint((_, { token }) =>
      token === 'tok-2' ? HttpResponse.json({ error: 'unsupported_token_type' }, { status: 400 }) : new HttpResponse(null, { status: 200 }),
    );
    server.use(tokenEndpoint().handler, revocation.handler);
    const client = await clientHolding(['a', 'b', 'c']);

    const result = await client.close({ revoke: true });

    expect(result.revoked).toBe(2);
    expect(result.errors).toHaveLength(1);
    expect(result.errors[0]).toBeInstanceOf(OAuthError);
    expect(result.errors[0]).toMatchObject({ code: 'OAUTH_ERROR', error: 'unsupported_token_type' });
  });

  it('resolves with a CONFIG error when no revocation endpoint is known, without rejecting', async () => {
    server.use(tokenEndpoint().handler);
    const client = await clientHolding(['a'], { revocationEndpoint: undefined });

    const result = await client.close({ revoke: true });

    expect(result.revoked).toBe(0);
    expect(result.errors).toHaveLength(1);
    expect(result.errors[0]).toMatchObject({ code: 'CONFIG' });
    expect(await rejectionOf(client.getToken())).toMatchObject({ code: 'CLOSED' });
  });

  it('resolves (never rejects) when the revocation request fails at the network level', async () => {
    server.use(
      tokenEndpoint().handler,
      http.post(REVOKE_URL, () => HttpResponse.error()),
    );
    const client = await clientHolding(['a']);

    const result = await client.close({ revoke: true });

    expect(result.revoked).toBe(0);
    expect(result.errors).toHaveLength(1);
    expect(result.errors[0]).toMatchObject({ code: 'NETWORK' });
  });

  it('with nothing held sends no revocation', async () => {
    const revocation = revocationEndpoint();
    server.use(revocation.handler);

    const result = await newClient({ revocationEndpoint: REVOKE_URL }).close({ revoke: true });

    expect(result).toEqual({ revoked: 0, errors: [], skipped: 0 });
    expect(revocation.tokens).toHaveLength(0);
  });
});

describe('close()', () => {
  it('without revoke sends no revocation', async () => {
    const revocation = revocationEndpoint();
    server.use(tokenEndpoint().handler, revocation.handler);
    const client = await clientHolding(['a', 'b']);

    const result = await client.close();

    expect(result).toEqual({ revoked: 0, errors: [], skipped: 0 });
    expect(revocation.tokens).toHaveLength(0);
  });

  it('is idempotent: a second call returns the same result and revokes nothing more', async () => {
    const revocation = revocationEndpoint();
    server.use(tokenEndpoint().handler, revocation.handler);
    const client = await clientHolding(['a', 'b']);

    const concurrent = [client.close({ revoke: true }), client.close({ revoke: true })];
    const first = await concurrent[0]!;
    const second = await client.close({ revoke: true });

    expect(first).toEqual({ revoked: 2, errors: [], skipped: 0 });
    expect(await concurrent[1]!).toBe(first);
    expect(second).toBe(first);
    expect(revocation.tokens).toHaveLength(2);
  });

  it('a later close({ revoke: true }) after close() does not revoke (the first call decides)', async () => {
    const revocation = revocationEndpoint();
    server.use(tokenEndpoint().handler, revocation.handler);
    const client = await clientHolding(['a']);

    await client.close();
    const result = await client.close({ revoke: true });

    expect(result).toEqual({ revoked: 0, errors: [], skipped: 0 });
    expect(revocation.tokens).toHaveLength(0);
  });

  it('afterwards getToken(), client.fetch(), wrappers and revoke() reject with CLOSED without any request', async () => {
    const tokens = tokenEndpoint();
    const api = resourceEndpoint(`${API}/*`);
    server.use(tokens.handler, api.handler);
    const client = newClient({ revocationEndpoint: REVOKE_URL });
    await client.getToken();
    const wrapper = client.createFetch({ scope: 'orders:write' });

    await client.close();

    for (const call of [
      () => client.getToken(),
      () => client.getToken({ scope: 'x', forceRefresh: true }),
      () => client.fetch(`${API}/a`),
      () => wrapper(`${API}/b`),
      () => client.revoke(),
    ]) {
      const error = await rejectionOf(call());
      expect(error).toBeInstanceOf(TokenError);
      expect(error.code).toBe('CLOSED');
    }
    expect(tokens.seen).toHaveLength(1);
    expect(api.seen).toHaveLength(0);
    expect(client.toJSON()).toMatchObject({ closed: true });
  });

  it('callers waiting on a token request in flight reject with CLOSED and the request is abandoned', async () => {
    const aborted = deferred<boolean>();
    let requests = 0;
    server.use(
      http.post(TOKEN_URL, async ({ request }) => {
        requests++;
        await abandoned(request);
        aborted.resolve(request.signal.aborted);
        return HttpResponse.error();
      }),
    );
    const client = newClient({ retry: { minDelay: 1, maxDelay: 5 } });

    const waiting: Promise<unknown>[] = [client.getToken(), client.getToken(), client.fetch(`${API}/a`)];
    for (const pending of waiting) pending.catch(() => {}); // asserted below
    await vi.waitFor(() => expect(requests).toBe(1));
    const result = await client.close();

    for (const pending of waiting) {
      const error = await rejectionOf(within(pending));
      expect(error).toBeInstanceOf(TokenError);
      expect(error.code).toBe('CLOSED');
    }
    expect(result).toEqual({ revoked: 0, errors: [], skipped: 0 });
    expect(await within(aborted.promise)).toBe(true);
    expect(requests).toBe(1);
  });

  it('`await using` closes the client at the end of the block', async () => {
    const revocation = revocationEndpoint();
    server.use(tokenEndpoint().handler, revocation.handler);
    let escaped: ClientCredentialsClient | undefined;

    {
      await using client = new ClientCredentialsClient({
        tokenEndpoint: TOKEN_URL,
        revocationEndpoint: REVOKE_URL,
        clientId: 'svc-r',
        clientSecret: RESOURCE_TEST_SECRET,
        retry: false,
      });
      escaped = client;
      await expect(client.getToken()).resolves.toMatchObject({ accessToken: 'tok-1' });
    }

    expect(await rejectionOf(escaped.getToken())).toMatchObject({ code: 'CLOSED' });
    // Disposal closes without revoking.
    expect(revocation.tokens).toHaveLength(0);
  });

  it('`await using` closes the client when the block throws', async () => {
    server.use(tokenEndpoint().handler);
    let escaped: ClientCredentialsClient | undefined;

    const run = async () => {
      await using client = new ClientCredentialsClient({ tokenEndpoint: TOKEN_URL, clientId: 'svc-r', retry: false });
      escaped = client;
      await client.getToken();
      throw new Error('boom');
    };

    await expect(run()).rejects.toThrow('boom');
    expect(await rejectionOf(escaped!.getToken())).toMatchObject({ code: 'CLOSED' });
  });
});

describe('close() and revocations already under way', () => {
  it('a revoke() under way when close() comes is not abandoned: the token is still revoked', async () => {
    const answer = deferred<void>();
    const revocation = revocationEndpoint(async () => {
      await answer.promise;
      return new HttpResponse(null, { status: 200 });
    });
    server.use(tokenEndpoint().handler, revocation.handler);
    const client = await clientHolding(['a']);

    const revoking = client.revoke();
    await vi.waitFor(() => expect(revocation.tokens).toEqual(['tok-1']));
    const closing = client.close({ revoke: true });
    answer.resolve();

    await expect(revoking).resolves.toBeUndefined();
    expect(await closing).toEqual({ revoked: 0, errors: [], skipped: 0 });
    expect(revocation.tokens).toEqual(['tok-1']);
  });

  it('rejects a close() timeout that is not a positive integer of ms, naming it', () => {
    const client = newClient({});
    for (const timeout of [0, -1, 1.5, Number.NaN, Number.POSITIVE_INFINITY, 2 ** 31]) {
      expect(() => client.close({ timeout })).toThrow(/`timeout` of close\(\)/);
    }
  });

  it('token requests abandoned by close() are not reported as error events', async () => {
    const held = deferred<Response>();
    server.use(tokenEndpoint(() => held.promise).handler);
    const client = newClient({});
    const errors: unknown[] = [];
    client.on('error', (event) => errors.push(event));

    const waiting = client.getToken();
    await client.close();
    held.resolve(HttpResponse.json({ access_token: 'late', token_type: 'Bearer', expires_in: 60 }));

    await expect(waiting).rejects.toMatchObject({ code: 'CLOSED' });
    expect(errors).toEqual([]);
  });
});

describe('close() ends waits it does not own', () => {
  /** Lets pending promise callbacks and I/O run (a few turns of the event loop). */
  const turns = async (n = 5) => {
    for (let i = 0; i < n; i++) await new Promise<void>((resolve) => setImmediate(resolve));
  };

  it('clears the timer of a retry delay under way: no one-hour Retry-After timer is left behind', async () => {
    server.use(http.post(TOKEN_URL, () => new HttpResponse('busy', { status: 503, headers: { 'retry-after': '3600' } })));
    const HOUR = 3_600_000;
    const setTimeoutSpy = vi.spyOn(globalThis, 'setTimeout');
    const clearTimeoutSpy = vi.spyOn(globalThis, 'clearTimeout');
    const client = newClient({ retry: { retries: 3, minDelay: 1, maxDelay: HOUR } });
    const retrying = new Promise((resolve) => client.on('retry', resolve));
    const call = client.getToken();
    // The delay starts right after the retry event.
    expect(await within(retrying, 2000)).toMatchObject({ operation: 'token', delay: HOUR });
    const delayTimers = setTimeoutSpy.mock.calls.flatMap((args, i) => (args[1] === HOUR ? [setTimeoutSpy.mock.results[i]!.value] : []));
    expect(delayTimers).toHaveLength(1);

    await client.close();

    expect((await rejectionOf(within(call, 1000))).code).toBe('CLOSED');
    const cleared = clearTimeoutSpy.mock.calls.some(([timer]) => timer === delayTimers[0]);
    expect(cleared, 'the retry delay timer was cleared by close()').toBe(true);
  });

  it('rejects a caller with CLOSED at once while the token store has not answered (the store call is not tied to close)', async () => {
    // Fake timeouts: the store call's own time limit never runs out, so only close() can end the wait.
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout'] });
    try {
      let asked = 0;
      const client = newClient({
        store: {
          get: () => {
            asked++;
            return new Promise(() => {});
          },
          set: async () => {},
          delete: async () => {},
        },
      });
      let outcome: unknown = 'pending';
      const call = client.getToken();
      call.then(
        () => (outcome = 'fulfilled'),
        (error: unknown) => (outcome = error),
      );
      await turns();
      expect(asked).toBe(1);
      expect(outcome).toBe('pending');

      await client.close();
      await turns();

      expect(outcome).toBeInstanceOf(TokenError);
      expect(outcome).toMatchObject({ code: 'CLOSED' });
    } finally {
      vi.useRealTimers();
    }
  });
});
