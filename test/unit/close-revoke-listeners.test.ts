/**
 * `close({ revoke: true })` revokes every held token in parallel under one deadline. However many
 * tokens there are, that must not add a listener per revocation to one signal: no
 * `MaxListenersExceededWarning` for a client that held more than 10 tokens.
 */
import { http, HttpResponse } from 'msw';
import { describe, expect, it } from 'vitest';
import { REVOKE_URL, tokenEndpoint, useMswServer } from '../helpers/msw.js';
import { settleIo, useClients, useProcessWarnings } from '../helpers/core.js';

const server = useMswServer();
const makeClient = useClients();

const processWarnings = useProcessWarnings();

describe('close({ revoke: true }) of a client holding 30 tokens', () => {
  it('revokes all 30 without a MaxListenersExceededWarning', async () => {
    const { handler } = tokenEndpoint();
    const revoked: string[] = [];
    server.use(
      handler,
      http.post(REVOKE_URL, async ({ request }) => {
        revoked.push(new URLSearchParams(await request.text()).get('token') ?? '');
        return new HttpResponse(null, { status: 200 });
      }),
    );
    const client = makeClient({ revocationEndpoint: REVOKE_URL });
    for (let i = 0; i < 30; i++) await client.getToken({ scope: `s${i}` });

    const result = await client.close({ revoke: true });
    await settleIo();
    expect(result).toEqual({ revoked: 30, errors: [], skipped: 0 });
    expect(revoked).toHaveLength(30);
    // Today: "Possible EventTarget memory leak detected. 11 abort listeners added to [AbortSignal]"
    // (each revocation's request listens on the close deadline's signal).
    expect(
      processWarnings()
        .filter((w) => w.name === 'MaxListenersExceededWarning')
        .map((w) => w.message),
    ).toEqual([]);
  });
});
