import { createServer, type IncomingHttpHeaders, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { http, HttpResponse } from 'msw';
import type { ClientCredentialsOptions } from '../../src/index.js';
import { TOKEN_URL } from './msw.js';

/** The resource server of the msw-based tests. */
export const API = 'https://api.example.com';

/** A secret used by the clients of the fetch / revoke / close tests. */
export const RESOURCE_TEST_SECRET = 'resource-test-secret';

/** Options for `useClients` (helpers/core.ts) in the fetch / revoke / close tests: client `svc-r`, token endpoint {@link TOKEN_URL}, no retries. */
export const RESOURCE_CLIENT: Partial<ClientCredentialsOptions> = {
  tokenEndpoint: TOKEN_URL,
  clientId: 'svc-r',
  clientSecret: RESOURCE_TEST_SECRET,
  retry: false,
};

/** What a resource server (msw) saw. */
export interface SeenResource {
  readonly method: string;
  readonly url: string;
  readonly authorization: string | null;
  readonly headers: Headers;
  readonly body: string;
}

/**
 * An msw handler for any method at `url` that records every request and answers with `reply(n, seen)`
 * (n = 1-based), by default 200 `ok`.
 */
export function resourceEndpoint(
  url: string,
  reply: (n: number, seen: SeenResource) => Response | Promise<Response> = () => HttpResponse.text('ok'),
) {
  const seen: SeenResource[] = [];
  const handler = http.all(url, async ({ request }) => {
    const entry: SeenResource = {
      method: request.method,
      url: request.url,
      authorization: request.headers.get('authorization'),
      headers: request.headers,
      body: await request.text(),
    };
    seen.push(entry);
    return reply(seen.length, entry);
  });
  return { handler, seen };
}

/** A 401 with an RFC 6750 `invalid_token` challenge. */
export const invalidToken = () =>
  new HttpResponse('stale', {
    status: 401,
    headers: { 'www-authenticate': 'Bearer realm="api", error="invalid_token", error_description="expired"' },
  });

/** A request as a real server saw it. */
export interface ServerRequest {
  readonly method: string;
  readonly path: string;
  readonly authorization: string | undefined;
  readonly contentType: string | undefined;
  readonly cookie: string | undefined;
  readonly proxyAuthorization: string | undefined;
  readonly headers: IncomingHttpHeaders;
  readonly body: string;
}

export interface TestServer {
  /** `http://127.0.0.1:<port>` */
  readonly origin: string;
  readonly requests: ServerRequest[];
  url(path: string): string;
  close(): Promise<void>;
}

/**
 * A real `node:http` server on 127.0.0.1 with an ephemeral port. `handle` answers each request (its
 * body already read); every request is recorded in `requests`.
 */
export async function startServer(
  handle: (request: ServerRequest, res: ServerResponse, req: IncomingMessage) => void,
): Promise<TestServer> {
  const requests: ServerRequest[] = [];
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => {
      const seen: ServerRequest = {
        method: req.method ?? '',
        path: req.url ?? '',
        authorization: req.headers.authorization,
        contentType: req.headers['content-type'],
        cookie: req.headers.cookie,
        proxyAuthorization: req.headers['proxy-authorization'],
        headers: req.headers,
        body: Buffer.concat(chunks).toString('utf8'),
      };
      requests.push(seen);
      handle(seen, res, req);
    });
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve());
  });
  const { port } = server.address() as AddressInfo;
  const origin = `http://127.0.0.1:${port}`;
  return {
    origin,
    requests,
    url: (path) => `${origin}${path}`,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

/** Writes a JSON response. */
export function sendJson(res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): void {
  res.writeHead(status, { 'content-type': 'application/json', ...headers });
  res.end(JSON.stringify(body));
}

/**
 * Resolves `arrive()` for every caller once `count` callers have arrived, so that a handler can prove
 * requests are in flight together. If they do not all arrive within `ms`, every waiting caller is
 * released with `false` instead of `true`.
 */
export function barrier(count: number, ms = 2000) {
  let arrived = 0;
  let release!: (complete: boolean) => void;
  const all = new Promise<boolean>((resolve) => (release = resolve));
  let timer: ReturnType<typeof setTimeout> | undefined;
  return {
    get arrived() {
      return arrived;
    },
    arrive(): Promise<boolean> {
      arrived++;
      timer ??= setTimeout(() => release(false), ms);
      if (arrived >= count) {
        clearTimeout(timer);
        release(true);
      }
      return all;
    },
  };
}
