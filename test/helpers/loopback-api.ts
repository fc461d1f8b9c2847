import { afterEach } from 'vitest';
import { sendJson, startServer, type ServerRequest, type TestServer } from './resource.js';

/**
 * A real token endpoint and a real resource server on 127.0.0.1 (ephemeral ports), for HTTP clients
 * msw does not intercept (undici's `request`, axios's http adapter).
 *
 * The token endpoint issues `tok-1`, `tok-2`, … (Bearer, 1 h). The API accepts only the tokens in
 * `accepted` (by default: only the latest issued) and answers 401 `invalid_token` otherwise; `answer`
 * overrides it per request.
 */
export interface LoopbackApi {
  readonly tokens: TestServer;
  readonly api: TestServer;
  /** Another server, whose origin is not listed: it records what it gets and answers 200. */
  readonly other: TestServer;
  readonly tokenUrl: string;
  /** The API accepts a token when this returns true. */
  accepts: (token: string, request: ServerRequest) => boolean;
  /** The `WWW-Authenticate` of the API's 401. @default 'Bearer error="invalid_token"' */
  challenge: string;
  /** Tokens issued so far. */
  issued(): number;
}

/** Starts a {@link LoopbackApi} before the test's first use and stops it after each test. */
export function useLoopbackApi(): () => Promise<LoopbackApi> {
  const running: TestServer[] = [];
  afterEach(async () => {
    await Promise.all(running.splice(0).map((s) => s.close()));
  });
  return async () => {
    let issued = 0;
    const tokens = await startServer((_req, res) => {
      issued++;
      sendJson(res, 200, { access_token: `tok-${issued}`, token_type: 'Bearer', expires_in: 3600 });
    });
    const state: LoopbackApi = {
      tokens,
      api: undefined as unknown as TestServer,
      other: undefined as unknown as TestServer,
      tokenUrl: tokens.url('/token'),
      accepts: (token) => token === `tok-${issued}`,
      challenge: 'Bearer error="invalid_token"',
      issued: () => issued,
    };
    const api = await startServer((req, res) => {
      const token = /^Bearer (\S+)$/.exec(req.authorization ?? '')?.[1];
      if (token !== undefined && state.accepts(token, req)) sendJson(res, 200, { ok: true, body: req.body });
      else sendJson(res, 401, { error: 'invalid_token' }, { 'www-authenticate': state.challenge });
    });
    const other = await startServer((_req, res) => sendJson(res, 200, { other: true }));
    running.push(tokens, api, other);
    return Object.assign(state, { api, other });
  };
}
