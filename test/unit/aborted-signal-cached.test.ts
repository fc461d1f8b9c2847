/**
 * A caller whose `signal` is already aborted has given up: it gets `ABORTED`, whether or not a token
 * is cached, and no request is made for it.
 */
import { describe, expect, it } from 'vitest';
import { TokenError } from '../../src/index.js';
import { tokenEndpoint, useMswServer } from '../helpers/msw.js';
import { rejectionOf, useClients } from '../helpers/core.js';

const server = useMswServer();
const makeClient = useClients();

describe('getToken() with an already aborted signal', () => {
  it('rejects with ABORTED even when a token is cached', async () => {
    const { handler, seen } = tokenEndpoint();
    server.use(handler);
    const client = makeClient();
    const cached = await client.getToken();
    expect(cached.accessToken).toBe('tok-1');

    const reason = new Error('caller gave up');
    // Today: resolves with the cached token.
    const error = await rejectionOf(client.getToken({ signal: AbortSignal.abort(reason) }));
    expect(TokenError.is(error)).toBe(true);
    expect(error.code).toBe('ABORTED');
    expect(error.cause).toBe(reason);
    expect(seen).toHaveLength(1);
    // The cached token is still there for callers that have not given up.
    expect((await client.getToken()).accessToken).toBe('tok-1');
  });

  it('rejects with ABORTED for a per-call scope whose token is cached', async () => {
    const { handler, seen } = tokenEndpoint();
    server.use(handler);
    const client = makeClient();
    await client.getToken({ scope: 'orders:read' });
    const error = await rejectionOf(client.getToken({ scope: 'orders:read', signal: AbortSignal.abort() }));
    expect(error.code).toBe('ABORTED');
    expect(seen).toHaveLength(1);
  });
});

describe('client.fetch() with an already aborted signal', () => {
  it.each(['init', 'Request'] as const)(
    'rejects with ABORTED (cause: the reason) even when a token is cached, and a fetch that ignores signals gets nothing (signal in %s)',
    async (where) => {
      const { handler } = tokenEndpoint();
      server.use(handler);
      const sent: string[] = [];
      // A custom fetch that ignores signals: only the wrapper can keep the token from being sent.
      const ignoring: typeof fetch = async (input) => {
        sent.push(String(input instanceof Request ? input.url : input));
        return new Response('ok');
      };
      const client = makeClient();
      const api = client.createFetch({ fetch: ignoring });
      await api('https://api.example.com/warm');

      const reason = new Error('caller gave up');
      const signal = AbortSignal.abort(reason);
      const call =
        where === 'init'
          ? api('https://api.example.com/orders', { signal })
          : api(new Request('https://api.example.com/orders', { signal }));
      const error = await rejectionOf(call);

      expect(error).toMatchObject({ name: 'TokenError', code: 'ABORTED' });
      expect(error.cause).toBe(reason);
      expect(sent).toEqual(['https://api.example.com/warm']);
    },
  );
});
