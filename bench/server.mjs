// The loopback authorization server and resource server every subject of the benchmark talks to.
// Runs in its own process (forked by bench/run.mjs, controlled over IPC), so that serving requests
// does not share an event loop with the clients being measured.
//
// - POST …/token: client credentials grant. Access tokens are `bench.<n>.<expiresAtEpochMs>`, so the
//   resource server and the bench can tell an expired token from the token alone. The lifetime, an
//   artificial delay and a sequence of failure statuses are set per scenario.
// - GET /resource: 200 for a valid bearer token, 401 `invalid_token` for an expired or unknown one.
// - GET /.well-known/openid-configuration (and the tenant variant): metadata, for clients that
//   discover (openid-client).
// The same handler listens on http (everyone) and https (msal-node accepts only https authorities;
// the self-signed certificate is made at run time by bench/run.mjs and never written to the repo).
import { createServer as createHttpServer } from 'node:http';
import { createServer as createHttpsServer } from 'node:https';

const CLIENT_ID = 'bench-client';
const CLIENT_SECRET = 'bench-secret';
const now = () => performance.timeOrigin + performance.now();

let config = { lifetime: 3600, delay: 0, failures: [] };
let stats = freshStats();
let issued = 0;

function freshStats() {
  return { token: 0, requests: [], failed: 0, resourceOk: 0, resourceRejected: 0, other: 0 };
}

function readBody(req) {
  return new Promise((resolve, reject) => {
    const chunks = [];
    req.on('data', (c) => chunks.push(c));
    req.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
    req.on('error', reject);
  });
}

function json(res, status, body, headers = {}) {
  const text = JSON.stringify(body);
  res.writeHead(status, {
    'content-type': 'application/json',
    'content-length': Buffer.byteLength(text),
    'cache-control': 'no-store',
    ...headers,
  });
  res.end(text);
}

/** Client authentication: HTTP Basic (form-urlencoded id and secret) or client_secret_post. */
function authenticated(req, form) {
  const header = req.headers.authorization;
  if (header?.startsWith('Basic ')) {
    const [id, secret] = Buffer.from(header.slice(6), 'base64')
      .toString('utf8')
      .split(':')
      .map((s) => decodeURIComponent(s.replace(/\+/g, ' ')));
    return id === CLIENT_ID && secret === CLIENT_SECRET;
  }
  return form.get('client_id') === CLIENT_ID && form.get('client_secret') === CLIENT_SECRET;
}

async function token(req, res) {
  const form = new URLSearchParams(await readBody(req));
  stats.token++;
  // Arrival time and, once answered, the number of the token it got: the bench matches requests with
  // the tokens handed out.
  const entry = [now(), -1];
  stats.requests.push(entry);
  if (form.get('grant_type') !== 'client_credentials') return json(res, 400, { error: 'unsupported_grant_type' });
  if (!authenticated(req, form)) return json(res, 401, { error: 'invalid_client' });
  const failure = config.failures.shift();
  const { lifetime, delay } = config;
  const respond = () => {
    if (failure !== undefined) {
      stats.failed++;
      return json(res, failure, { error: 'temporarily_unavailable', error_description: 'bench: scripted failure' });
    }
    // Dated when the response is sent, as a real server issues it: the most generous choice for clients
    // that date expiry from the response rather than from the request.
    const expiresAt = Math.floor(Date.now() + lifetime * 1000);
    const value = `bench.${++issued}.${expiresAt}`;
    entry[1] = issued;
    json(res, 200, {
      access_token: value,
      token_type: 'Bearer',
      expires_in: lifetime,
      ext_expires_in: lifetime,
      scope: form.get('scope') ?? undefined,
    });
  };
  if (delay > 0) setTimeout(respond, delay);
  else respond();
}

function resource(req, res) {
  const match = /^Bearer bench\.\d+\.(\d+)$/.exec(req.headers.authorization ?? '');
  if (match === null || Number(match[1]) <= Date.now()) {
    stats.resourceRejected++;
    return json(res, 401, { error: 'invalid_token' }, { 'www-authenticate': 'Bearer error="invalid_token"' });
  }
  stats.resourceOk++;
  json(res, 200, { ok: true, items: [1, 2, 3] });
}

function metadata(_req, res, origin, path) {
  const issuer = `${origin}${path}`;
  json(res, 200, {
    issuer,
    token_endpoint: `${issuer}/token`,
    authorization_endpoint: `${issuer}/authorize`,
    jwks_uri: `${issuer}/jwks`,
    response_types_supported: ['code'],
    subject_types_supported: ['public'],
    id_token_signing_alg_values_supported: ['RS256'],
    token_endpoint_auth_methods_supported: ['client_secret_basic', 'client_secret_post'],
    grant_types_supported: ['client_credentials'],
  });
}

function handler(origin) {
  return (req, res) => {
    const path = new URL(req.url, 'http://x').pathname;
    if (req.method === 'POST' && path.endsWith('/token')) return void token(req, res).catch(() => res.destroy());
    if (req.method === 'GET' && path === '/resource') return resource(req, res);
    stats.other++;
    const wellKnown = /^(.*)\/(?:v2\.0\/)?\.well-known\/openid-configuration$/.exec(path);
    if (req.method === 'GET' && wellKnown) return metadata(req, res, origin(), wellKnown[1]);
    json(res, 404, { error: 'not_found' });
  };
}

function listen(server) {
  // Keep-alive longer than any pause between rounds, so no client races a closing socket.
  server.keepAliveTimeout = 120_000;
  server.headersTimeout = 121_000;
  return new Promise((resolve) => server.listen({ port: 0, host: '127.0.0.1', backlog: 4096 }, () => resolve(server.address().port)));
}

const servers = [];
process.on('message', async (message) => {
  const reply = (body) => process.send({ id: message.id, ...body });
  switch (message.type) {
    case 'start': {
      let httpPort;
      let httpsPort;
      const http = createHttpServer(handler(() => `http://127.0.0.1:${httpPort}`));
      const https = createHttpsServer(
        { key: message.tls.key, cert: message.tls.cert },
        handler(() => `https://127.0.0.1:${httpsPort}`),
      );
      servers.push(http, https);
      httpPort = await listen(http);
      httpsPort = await listen(https);
      return reply({ http: httpPort, https: httpsPort });
    }
    case 'config':
      config = { lifetime: message.lifetime ?? 3600, delay: message.delay ?? 0, failures: [...(message.failures ?? [])] };
      stats = freshStats();
      return reply({});
    case 'stats':
      return reply({ stats });
    case 'stop':
      for (const s of servers) s.closeAllConnections?.();
      await Promise.all(servers.map((s) => new Promise((r) => s.close(r))));
      reply({});
      return process.exit(0);
  }
});
// The parent's death ends this process too: nothing is left listening.
process.on('disconnect', () => process.exit(0));
