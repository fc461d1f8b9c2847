/**
 * An MCP client for machine-to-machine use: the MCP TypeScript SDK's Streamable HTTP transport sends
 * through `client.fetch`, which knows only the MCP server's URL. The server's 401 names its Protected
 * Resource Metadata (RFC 9728); the client checks that the authorization server it names is one it
 * trusts, gets a token for that server's resource (RFC 8707) and sends again. A tool that needs more
 * scope gets one step-up.
 *
 *   npx tsx examples/mcp-client.ts
 *
 * Against your own servers: M2M_MCP_URL, M2M_AUTHORIZATION_SERVER (the issuer you trust), M2M_CLIENT_ID
 * and M2M_CLIENT_SECRET. Without them, an embedded MCP server and authorization server run on 127.0.0.1.
 */
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { ClientCredentialsClient } from 'm2m-token';
import { startAuthorizationServer } from './support/embedded-server.js';
import { MCP_ADMIN_SCOPE, MCP_SCOPE, startMcpServer } from './support/mcp-server.js';

const { M2M_MCP_URL, M2M_AUTHORIZATION_SERVER, M2M_CLIENT_ID, M2M_CLIENT_SECRET } = process.env;
const embedded = M2M_MCP_URL === undefined;
const agent = { clientId: M2M_CLIENT_ID ?? 'mcp-agent', clientSecret: M2M_CLIENT_SECRET ?? 'mcp-agent-demo-secret' };

// The embedded servers: an MCP server first (its URL is the resource the authorization server knows).
const mcp = embedded ? await startMcpServer() : undefined;
const as = mcp
  ? await startAuthorizationServer({
      resources: { [mcp.url]: [MCP_SCOPE, MCP_ADMIN_SCOPE] },
      clients: [{ client_id: agent.clientId, client_secret: agent.clientSecret, scope: `${MCP_SCOPE} ${MCP_ADMIN_SCOPE}` }],
    })
  : undefined;
if (mcp && as) mcp.trust(as);
const mcpUrl = M2M_MCP_URL ?? mcp!.url;
const trusted = M2M_AUTHORIZATION_SERVER ?? as!.issuer;

// Only the credentials and the allow-list: no token endpoint, no issuer.
const client = new ClientCredentialsClient({ ...agent, resourceDiscovery: { authorizationServers: [trusted] } });
let tokenRequests = 0;
client.on('token', (e) => {
  if (e.source === 'server') tokenRequests++;
});

const session = new Client({ name: 'm2m-token-example', version: '1.0.0' });
try {
  await session.connect(new StreamableHTTPClientTransport(new URL(mcpUrl), { fetch: client.fetch }));
  const { tools } = await session.listTools();
  console.log(`tools: ${tools.map((t) => t.name).join(', ')}`);

  const calls = await Promise.all(Array.from({ length: 10 }, () => session.callTool({ name: 'whoami' })));
  const first = calls[0]!.content as { type: 'text'; text: string }[];
  console.log(`10 concurrent calls of whoami -> ${first[0]!.text}`);
  console.log(`token requests so far: ${tokenRequests}`);

  if (tools.some((t) => t.name === 'admin-report')) {
    const report = (await session.callTool({ name: 'admin-report' })).content as { type: 'text'; text: string }[];
    console.log(`admin-report (after one step-up) -> ${report[0]!.text}`);
    console.log(`token requests: ${tokenRequests}`);
  }
} finally {
  await session.close();
  await client.close();
  await mcp?.close();
  await as?.close();
}
