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
