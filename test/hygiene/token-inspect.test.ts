/**
 * A token object printed whole — `util.inspect` with `showHidden` (what `console.dir(token, { showHidden: true })`
 * and debuggers show), `util.format('%o', token)` (which implies showHidden) — must not show the access
 * token, nor the `Authorization` value built from it. `token.accessToken` stays readable, and
 * destructuring works.
 */
import { format, inspect } from 'node:util';
import { describe, expect, it } from 'vitest';
import { tokenEndpoint, useMswServer } from '../helpers/msw.js';
import { tokenJson, useClients } from '../helpers/core.js';

const server = useMswServer();
const makeClient = useClients();
const MARK = 'AT-inspect-never-show';

describe('a token printed whole', () => {
  it('does not show the access token with util.inspect(showHidden) or util.format(%o), yet accessToken reads it', async () => {
    const { handler } = tokenEndpoint(() =>
      tokenJson(`${MARK}-1`, 3600, { issued_token_type: 'urn:ietf:params:oauth:token-type:access_token' }),
    );
    server.use(handler);
    const token = await makeClient().getToken();

    const printed = {
      'inspect showHidden': inspect(token, { showHidden: true, depth: 10 }),
      'format %o': format('%o', token),
      'format %O': format('%O', token),
      inspect: inspect(token),
      JSON: JSON.stringify(token),
    };
    // Today: the first two show accessToken (a non-enumerable property) and the Authorization value.
    for (const [where, text] of Object.entries(printed)) expect(text, where).not.toContain(MARK);
    // Still a usable token.
    expect(token.accessToken).toBe(`${MARK}-1`);
    const { accessToken, tokenType, expiresAt } = token;
    expect(accessToken).toBe(`${MARK}-1`);
    expect(tokenType).toBe('Bearer');
    expect(expiresAt).toBeGreaterThan(Date.now());
    expect(printed['inspect showHidden']).toContain('Bearer');
  });
});
