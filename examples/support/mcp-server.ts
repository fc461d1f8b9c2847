/**
 * An embedded MCP server for the examples and tests: the MCP TypeScript SDK's Streamable HTTP transport
 * on a node:http server on 127.0.0.1, protected as the MCP authorization specification describes:
 *
 * - it publishes its Protected Resource Metadata (RFC 9728) at
 *   `/.well-known/oauth-protected-resource/mcp`, naming the authorization server it trusts;
 * - a request without a valid token gets a 401 whose `WWW-Authenticate` names that metadata and the scope;
 * - tokens are RS256 JWTs of that authorization server (RFC 9068) whose `aud` is the server's resource
 *   identifier (RFC 8707), checked against its JWKS;
 * - the tool `admin-report` needs {@link MCP_ADMIN_SCOPE}: without it, a 403 `insufficient_scope`.
 *
 * Start it first (its URL is the resource identifier the authorization server must know), then call
 * `trust(authorizationServer)`.
 */
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import { McpServer } from '@modelcontextprotocol/sdk/server/mcp.js';
import { StreamableHTTPServerTransport } from '@modelcontextprotocol/sdk/server/streamableHttp.js';
import { createRemoteJWKSet, jwtVerify } from 'jose';

/** The scope every tool call needs. */
export const MCP_SCOPE = 'mcp:tools';
/** The scope the `admin-report` tool needs besides. */
export const MCP_ADMIN_SCOPE = 'mcp:admin';

/** The authorization server an {@link EmbeddedMcpServer} trusts. */
export interface TrustedIssuer {
  readonly issuer: string;
  readonly jwksUri: string;
}

/** A running embedded MCP server. */
export interface EmbeddedMcpServer {
  /** The MCP endpoint, `http://127.0.0.1:<port>/mcp`: also its resource identifier. */
  readonly url: string;
  /** Where its Protected Resource Metadata is. */
  readonly metadataUrl: string;
  /** Accepts tokens of `issuer` from now on (before that, every request is refused). */
  trust(issuer: TrustedIssuer): void;
  /** Tool calls served, per tool name. */
  readonly toolCalls: Map<string, number>;
  /** The requests the server refused, by status (401, 403). */
  readonly statuses: Map<number, number>;
  close(): Promise<void>;
}

interface Caller {
  readonly clientId: string;
  readonly scopes: readonly string[];
}

function readBody(req: IncomingMessage): Promise<string> {
  return new Promise((resolve, reject) => {
    let body = '';
    req.setEncoding('utf8');
    req.on('data', (chunk: string) => {
      body += chunk;
      if (body.length > 1_000_000) req.destroy(new Error('body too large'));
    });
    req.on('end', () => resolve(body));
    req.on('error', reject);
  });
}

/** The tool names a JSON-RPC message (or batch) calls. */
function calledTools(message: unknown): string[] {
  const messages = Array.isArray(message) ? message : [message];
  return messages.flatMap((m) => {
    const { method, params } = (m ?? {}) as { method?: unknown; params?: { name?: unknown } };
    return method === 'tools/call' && typeof params?.name === 'string' ? [params.name] : [];
  });
}

/** A fresh MCP server (one per request: the stateless mode of the Streamable HTTP transport). */
function mcpServer(caller: Caller, toolCalls: Map<string, number>): McpServer {
  const server = new McpServer({ name: 'embedded-mcp', version: '1.0.0' });
  const count = (name: string) => toolCalls.set(name, (toolCalls.get(name) ?? 0) + 1);
  server.registerTool('whoami', { description: 'Who is calling, and with which scopes' }, async () => {
    count('whoami');
    return { content: [{ type: 'text', text: JSON.stringify({ client_id: caller.clientId, scope: caller.scopes.join(' ') }) }] };
  });
  server.registerTool('admin-report', { description: `A report that needs ${MCP_ADMIN_SCOPE}` }, async () => {
    count('admin-report');
    return { content: [{ type: 'text', text: `report for ${caller.clientId}` }] };
  });
  return server;
}

/** Starts an embedded MCP server on 127.0.0.1 (any free port by default). */
export async function startMcpServer(port = 0): Promise<EmbeddedMcpServer> {
  let trusted: { issuer: string; jwks: ReturnType<typeof createRemoteJWKSet> } | undefined;
  const toolCalls = new Map<string, number>();
  const statuses = new Map<number, number>();
  let url = '';
  let metadataUrl = '';

  const answer = (res: ServerResponse, status: number, headers: Record<string, string>, body: string) => {
    statuses.set(status, (statuses.get(status) ?? 0) + 1);
    res.writeHead(status, { 'content-type': 'application/json', ...headers }).end(body);
  };
  const challenge = (extra = '') => `Bearer resource_metadata="${metadataUrl}", scope="${MCP_SCOPE}"${extra}`;

  const authenticate = async (req: IncomingMessage): Promise<Caller | undefined> => {
    const match = /^Bearer ([\w.~+/-]+=*)$/.exec(req.headers.authorization ?? '');
    if (match === null || trusted === undefined) return undefined;
    try {
      const { payload } = await jwtVerify(match[1]!, trusted.jwks, { issuer: trusted.issuer, audience: url, typ: 'at+jwt' });
      const scopes = typeof payload.scope === 'string' ? payload.scope.split(' ') : [];
      if (!scopes.includes(MCP_SCOPE)) return undefined;
      return { clientId: String(payload.client_id), scopes };
    } catch {
      return undefined;
    }
  };

  const handle = async (req: IncomingMessage, res: ServerResponse) => {
    const path = new URL(req.url ?? '/', url).pathname;
    if (req.method === 'GET' && path === '/.well-known/oauth-protected-resource/mcp') {
      const metadata = {
        resource: url,
        authorization_servers: trusted ? [trusted.issuer] : [],
        scopes_supported: [MCP_SCOPE, MCP_ADMIN_SCOPE],
        bearer_methods_supported: ['header'],
      };
      return answer(res, 200, {}, JSON.stringify(metadata));
    }
    if (path !== '/mcp') return answer(res, 404, {}, '{"error":"not_found"}');
    const caller = await authenticate(req);
    if (caller === undefined) {
      const error = req.headers.authorization === undefined ? '' : ', error="invalid_token"';
      return answer(res, 401, { 'www-authenticate': challenge(error) }, '{"error":"unauthorized"}');
    }
    const body = req.method === 'POST' ? JSON.parse(await readBody(req)) : undefined;
    if (calledTools(body).includes('admin-report') && !caller.scopes.includes(MCP_ADMIN_SCOPE)) {
      const header = `Bearer error="insufficient_scope", scope="${MCP_ADMIN_SCOPE}", resource_metadata="${metadataUrl}"`;
      return answer(res, 403, { 'www-authenticate': header }, '{"error":"insufficient_scope"}');
    }
    const server = mcpServer(caller, toolCalls);
    const transport = new StreamableHTTPServerTransport({ enableJsonResponse: true }); // no sessionIdGenerator: stateless;
    res.on('close', () => {
      void transport.close();
      void server.close();
    });
    await server.connect(transport);
    await transport.handleRequest(req, res, body);
  };

  const http = createServer((req, res) => {
    handle(req, res).catch(() => {
      if (!res.headersSent) answer(res, 500, {}, '{"error":"server_error"}');
      else res.end();
    });
  });
  await new Promise<void>((resolve) => http.listen(port, '127.0.0.1', resolve));
  const { port: actual } = http.address() as { port: number };
  url = `http://127.0.0.1:${actual}/mcp`;
  metadataUrl = `http://127.0.0.1:${actual}/.well-known/oauth-protected-resource/mcp`;

  return {
    url,
    metadataUrl,
    trust: ({ issuer, jwksUri }) => {
      trusted = { issuer, jwks: createRemoteJWKSet(new URL(jwksUri)) };
    },
    toolCalls,
    statuses,
    close: () =>
      new Promise<void>((resolve) => {
        http.closeAllConnections();
        http.close(() => resolve());
      }),
  };
}
