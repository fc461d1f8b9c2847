/**
 * Proven with the MCP TypeScript SDK: an SDK MCP server (Streamable HTTP, stateless) protected by JWTs of
 * the embedded oidc-provider and publishing its Protected Resource Metadata; SDK clients whose transport
 * sends through `client.fetch`, knowing only the MCP server's URL, the allowed authorization server and
 * their own credentials.
 */
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { type AuthorizationServer, startAuthorizationServer } from '../../examples/support/embedded-server.js';
import { type EmbeddedMcpServer, MCP_ADMIN_SCOPE, MCP_SCOPE, startMcpServer } from '../../examples/support/mcp-server.js';
import { ClientCredentialsClient, TokenError } from '../../src/index.js';

const AGENT = { clientId: 'mcp-agent', clientSecret: 'mcp-agent-demo-secret' };

let mcp: EmbeddedMcpServer;
let as: AuthorizationServer;
const open: { close(): Promise<unknown> }[] = [];

beforeAll(async () => {
  mcp = await startMcpServer();
  as = await startAuthorizationServer({
    resources: { [mcp.url]: [MCP_SCOPE, MCP_ADMIN_SCOPE] },
    clients: [
      {
        client_id: AGENT.clientId,
        client_secret: AGENT.clientSecret,
        token_endpoint_auth_method: 'client_secret_basic',
        scope: `${MCP_SCOPE} ${MCP_ADMIN_SCOPE}`,
      },
    ],
  });
  mcp.trust(as);
});
afterEach(async () => {
  await Promise.all(open.splice(0).map((c) => c.close()));
});
afterAll(async () => {
  await mcp?.close();
  await as?.close();
});

/** A client that knows only its credentials and which authorization servers it trusts. */
function agent(authorizationServers = [as.issuer]): ClientCredentialsClient {
  const client = new ClientCredentialsClient({ ...AGENT, resourceDiscovery: { authorizationServers }, retry: false });
  open.push(client);
  return client;
}

async function connect(client: ClientCredentialsClient): Promise<Client> {
  const mcpClient = new Client({ name: 'm2m-agent', version: '1.0.0' });
  await mcpClient.connect(new StreamableHTTPClientTransport(new URL(mcp.url), { fetch: client.fetch }));
  open.push(mcpClient);
  return mcpClient;
}

const textOf = (result: Awaited<ReturnType<Client['callTool']>>) => (result.content as { type: string; text: string }[])[0]!.text;

describe('MCP server protected by bearer tokens, reached with the MCP SDK through client.fetch', () => {
  it('connects knowing only the server URL, lists the tools and calls one with a token for that server', async () => {
    const before = as.issued();
    const session = await connect(agent());
    const { tools } = await session.listTools();
    expect(tools.map((t) => t.name).sort()).toEqual(['admin-report', 'whoami']);
    const who = JSON.parse(textOf(await session.callTool({ name: 'whoami' }))) as { client_id: string; scope: string };
    expect(who).toEqual({ client_id: AGENT.clientId, scope: MCP_SCOPE });
    expect(as.issued() - before).toBe(1);
  });

  it('makes one token request for two transports and twenty concurrent tool calls', async () => {
    const client = agent();
    const before = as.issued();
    const [first, second] = await Promise.all([connect(client), connect(client)]);
    const calls = Array.from({ length: 20 }, (_, i) => (i % 2 === 0 ? first! : second!).callTool({ name: 'whoami' }));
    const results = await Promise.all(calls);
    expect(results.map((r) => JSON.parse(textOf(r)).client_id)).toEqual(Array(20).fill(AGENT.clientId));
    expect(as.issued() - before).toBe(1);
  });

  it('steps up once for a tool that needs a scope the token lacks', async () => {
    const client = agent();
    const before = as.issued();
    const refusedBefore = mcp.statuses.get(403) ?? 0;
    const session = await connect(client);
    expect(textOf(await session.callTool({ name: 'admin-report' }))).toBe(`report for ${AGENT.clientId}`);
    expect((mcp.statuses.get(403) ?? 0) - refusedBefore).toBe(1);
    expect(as.issued() - before).toBe(2);
    // The wider token is kept for the next calls.
    expect(JSON.parse(textOf(await session.callTool({ name: 'whoami' }))).scope).toBe(`${MCP_SCOPE} ${MCP_ADMIN_SCOPE}`);
    expect(as.issued() - before).toBe(2);
  });

  it('refuses, with CONFIG and no token request, an MCP server whose authorization server is not allowed', async () => {
    const before = as.issued();
    const error = await connect(agent(['https://other-as.example.com'])).catch((e: unknown) => e);
    // The SDK wraps what its fetch throws; the TokenError is there, as the error or its cause.
    const tokenError = TokenError.is(error) ? error : (error as { cause?: unknown }).cause;
    expect(TokenError.is(tokenError) && tokenError.code).toBe('CONFIG');
    expect(as.issued()).toBe(before);
  });
});
