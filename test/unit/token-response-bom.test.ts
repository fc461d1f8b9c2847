/**
 * A token response whose body starts with a UTF-8 byte order mark (some servers and proxies on
 * Windows stacks add one) is JSON all the same: the BOM is skipped and the token accepted.
 */
import { http, HttpResponse } from 'msw';
import { describe, expect, it } from 'vitest';
import { TOKEN_URL, useMswServer } from '../helpers/msw.js';
import { useClients } from '../helpers/core.js';

const server = useMswServer();
const makeClient = useClients();

describe('a token response body with a UTF-8 BOM', () => {
  it('(EF BB BF then valid JSON) is accepted', async () => {
    const json = Buffer.from(JSON.stringify({ access_token: 'bom-token', token_type: 'Bearer', expires_in: 3600 }), 'utf8');
    const body = Buffer.concat([Buffer.from([0xef, 0xbb, 0xbf]), json]);
    server.use(http.post(TOKEN_URL, () => new HttpResponse(body, { status: 200, headers: { 'content-type': 'application/json' } })));
    const client = makeClient();
    // Today: INVALID_RESPONSE "token response is not a JSON object (HTTP 200)".
    const token = await client.getToken();
    expect(token.accessToken).toBe('bom-token');
    expect(token.tokenType).toBe('Bearer');
  });
});
