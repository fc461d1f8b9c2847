// The subjects of the benchmark, each used the way its own README (or its documented API) tells users
// to. `create()` is only called inside a worker process (bench/worker.mjs), one process per subject, so
// no library shares a heap, a JIT or a connection pool with another.
//
// A created subject has:
//   token()        the call a user makes for a (cached) token, awaited as is
//   tokenOf(r)     the access token string in what token() resolved with
//   request(url)   an authorized GET through the library's own fetch wrapper / interceptor
//   close()        cleanup, where the library has any

/**
 * Scenario ids: a cached getToken, b concurrent cold callers, c rotation, d fetch throughput, e 503 503 200,
 * f import and footprint, g first token of a process, h undici.request through m2m-token/undici (m2m-token
 * alone, against a fixed header: the subjects below do not take part).
 */
export const SCENARIOS = ['a', 'b', 'c', 'd', 'e', 'f', 'g', 'h'];

/**
 * What the report says about each subject: its packages, how it is used, and why a scenario is n/a.
 * `na` maps a scenario id to the reason it cannot be run as the library is meant to be used.
 */
export const SUBJECTS = [
  {
    name: 'm2m-token',
    packages: ['m2m-token'],
    usage:
      '`new ClientCredentialsClient({ tokenEndpoint, clientId, clientSecret, scope })`; `await client.getToken()`; `client.fetch(url)`. Defaults throughout. The package built, packed and installed from its tarball.',
    na: {},
  },
  {
    name: 'baseline',
    packages: [],
    usage: '`const get = async () => cachedToken; await get()`: the floor for any async token API.',
    na: { b: 'not a client', c: 'not a client', d: 'see bare fetch', e: 'not a client', f: 'no package', g: 'not a client' },
    floor: true,
  },
  {
    name: 'bare fetch',
    packages: [],
    usage:
      "`fetch(url, { headers: { authorization: 'Bearer ' + token } })` with one token fetched by hand beforehand: the floor for an authorized request.",
    na: { a: 'no token API', b: 'no token API', c: 'no token API', e: 'no token API', f: 'built into Node.js' },
    // In (g) it stands for the floor of a token request: a POST with `fetch()` and its JSON read.
    floor: true,
  },
  {
    name: 'openid-client',
    packages: ['openid-client'],
    usage:
      '`config = await discovery(issuer, clientId, clientSecret, undefined, { execute: [allowInsecureRequests] })` (README); `await clientCredentialsGrant(config, { scope })` (README: Client Credentials Grant); `fetchProtectedResource(config, accessToken, new URL(url), "GET")` with a token obtained once by hand.',
    na: {
      a: 'no token cache: every `clientCredentialsGrant()` is a token request',
      c: 'no token cache: every caller would wait for its own token request',
    },
  },
  {
    name: 'simple-oauth2',
    packages: ['simple-oauth2'],
    usage:
      "`new ClientCredentials({ client: { id, secret }, auth: { tokenHost, tokenPath } })`; the README's pattern: keep `accessToken`, and `if (!accessToken || accessToken.expired(EXPIRATION_WINDOW_IN_SECONDS)) accessToken = await client.getToken({ scope })` — window 300 s as in the README, 0.2 s in scenario (c) where the token lives 2 s (300 s would make every call a token request).",
    na: { d: 'no fetch wrapper or interceptor' },
  },
  {
    name: '@badgateway/oauth2-client',
    packages: ['@badgateway/oauth2-client'],
    usage:
      "`new OAuth2Client({ server, clientId, clientSecret, tokenEndpoint })` and the README's `new OAuth2Fetch({ client, getNewToken: () => client.clientCredentials({ scope }) })`; `await fetchWrapper.getToken()`; `fetchWrapper.fetch(url)`.",
    na: {},
  },
  {
    name: '@azure/msal-node',
    packages: ['@azure/msal-node'],
    usage:
      '`new ConfidentialClientApplication({ auth: { clientId, clientSecret, authority, knownAuthorities, authorityMetadata, cloudDiscoveryMetadata } })` over https (its authority must be https; metadata inline so it runs offline); `await cca.acquireTokenByClientCredential({ scopes })`, which serves its in-memory cache first. Its token endpoint is the https listener of the same server.',
    na: {
      c: 'it uses a cached token only while more than 5 minutes are left (a fixed offset msal-node does not let you set), so with 2-second tokens every call is a token request of its own (no single flight, see (b))',
      d: 'no fetch wrapper or interceptor',
    },
  },
  {
    name: 'axios-oauth-client',
    packages: ['axios-oauth-client', 'axios-token-interceptor', 'axios'],
    usage:
      "1.5.0, the last release with the token interceptor (2.x removed it), as its README shows: `instance.interceptors.request.use(oauth.interceptor(tokenProvider, oauth.client(axios.create(), { url, grant_type: 'client_credentials', client_id, client_secret, scope })))` with `axios-token-interceptor`. Scenarios (a), (b), (c), (e) time the interceptor call itself (what runs on every request); (d) `instance.get(url)`.",
    na: {},
  },
  {
    name: 'axios (fixed header)',
    packages: ['axios'],
    usage:
      '`axios.create({ headers: { Authorization } })` with one token fetched by hand: the floor for an axios request, to read axios-oauth-client by.',
    na: { a: 'no token API', b: 'no token API', c: 'no token API', e: 'no token API', f: 'see axios-oauth-client', g: 'no token API' },
    floor: true,
  },
];

/** Fetches one token with plain fetch, for the subjects that attach a fixed header. */
export async function tokenByHand(ctx) {
  const res = await fetch(`${ctx.http}/token`, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams({
      grant_type: 'client_credentials',
      client_id: ctx.clientId,
      client_secret: ctx.clientSecret,
      scope: ctx.scope,
    }),
  });
  if (!res.ok) throw new Error(`token by hand: HTTP ${res.status}`);
  return (await res.json()).access_token;
}

/**
 * Creates one instance of a subject. `opts.rotation` is set in scenario (c), where tokens live 2 s.
 * @returns {Promise<{ token?: () => Promise<unknown>, tokenOf?: (r: any) => string, request?: (url: string) => Promise<any>, close?: () => unknown }>}
 */
export async function create(name, ctx, opts = {}) {
  switch (name) {
    case 'm2m-token': {
      const { ClientCredentialsClient } = await import(ctx.m2mToken);
      const client = new ClientCredentialsClient({
        tokenEndpoint: `${ctx.http}/token`,
        clientId: ctx.clientId,
        clientSecret: ctx.clientSecret,
        scope: ctx.scope,
      });
      return {
        token: () => client.getToken(),
        tokenOf: (t) => t.accessToken,
        request: (url) => client.fetch(url),
        close: () => client.close(),
      };
    }

    case 'baseline': {
      const cachedToken = 'bench.0.99999999999999';
      const get = async () => cachedToken;
      return { token: () => get(), tokenOf: (t) => t };
    }

    case 'bare fetch': {
      const headers = { authorization: `Bearer ${await tokenByHand(ctx)}` };
      return { request: (url) => fetch(url, { headers }) };
    }

    case 'openid-client': {
      const client = await import('openid-client');
      const config = await client.discovery(new URL(ctx.http), ctx.clientId, ctx.clientSecret, undefined, {
        execute: [client.allowInsecureRequests],
      });
      let accessToken;
      return {
        token: () => client.clientCredentialsGrant(config, { scope: ctx.scope }),
        tokenOf: (r) => r.access_token,
        request: async (url) => {
          accessToken ??= (await client.clientCredentialsGrant(config, { scope: ctx.scope })).access_token;
          return client.fetchProtectedResource(config, accessToken, new URL(url), 'GET');
        },
      };
    }

    case 'simple-oauth2': {
      const { ClientCredentials } = await import('simple-oauth2');
      const client = new ClientCredentials({
        client: { id: ctx.clientId, secret: ctx.clientSecret },
        auth: { tokenHost: ctx.http, tokenPath: '/token' },
      });
      const tokenParams = { scope: ctx.scope };
      const EXPIRATION_WINDOW_IN_SECONDS = opts.rotation ? 0.2 : 300;
      let accessToken;
      async function getToken() {
        if (accessToken === undefined || accessToken.expired(EXPIRATION_WINDOW_IN_SECONDS)) {
          accessToken = await client.getToken(tokenParams);
        }
        return accessToken;
      }
      return { token: () => getToken(), tokenOf: (t) => t.token.access_token };
    }

    case '@badgateway/oauth2-client': {
      const { OAuth2Client, OAuth2Fetch } = await import('@badgateway/oauth2-client');
      const client = new OAuth2Client({
        server: ctx.http,
        clientId: ctx.clientId,
        clientSecret: ctx.clientSecret,
        tokenEndpoint: '/token',
      });
      const fetchWrapper = new OAuth2Fetch({
        client,
        getNewToken: () => client.clientCredentials({ scope: [ctx.scope] }),
      });
      return {
        token: () => fetchWrapper.getToken(),
        tokenOf: (t) => t.accessToken,
        request: (url) => fetchWrapper.fetch(url),
      };
    }

    case '@azure/msal-node': {
      const { ConfidentialClientApplication } = await import('@azure/msal-node');
      const host = new URL(ctx.https).host;
      const authority = `${ctx.https}/bench-tenant`;
      const cca = new ConfidentialClientApplication({
        auth: {
          clientId: ctx.clientId,
          clientSecret: ctx.clientSecret,
          authority,
          knownAuthorities: [host],
          authorityMetadata: JSON.stringify({
            token_endpoint: `${authority}/oauth2/v2.0/token`,
            authorization_endpoint: `${authority}/oauth2/v2.0/authorize`,
            end_session_endpoint: `${authority}/oauth2/v2.0/logout`,
            issuer: `${authority}/v2.0`,
            jwks_uri: `${authority}/discovery/v2.0/keys`,
          }),
          cloudDiscoveryMetadata: JSON.stringify({
            tenant_discovery_endpoint: `${authority}/v2.0/.well-known/openid-configuration`,
            'api-version': '1.1',
            metadata: [{ preferred_network: host, preferred_cache: host, aliases: [host] }],
          }),
        },
      });
      const tokenRequest = { scopes: [ctx.scope] };
      return { token: () => cca.acquireTokenByClientCredential(tokenRequest), tokenOf: (r) => r.accessToken };
    }

    case 'axios-oauth-client': {
      const { default: axios } = await import('axios');
      const { default: oauth } = await import('axios-oauth-client');
      const { default: tokenProvider } = await import('axios-token-interceptor');
      const getClientCredentials = oauth.client(axios.create(), {
        url: `${ctx.http}/token`,
        grant_type: 'client_credentials',
        client_id: ctx.clientId,
        client_secret: ctx.clientSecret,
        scope: ctx.scope,
      });
      const interceptor = oauth.interceptor(tokenProvider, getClientCredentials);
      const instance = axios.create();
      instance.interceptors.request.use(interceptor);
      return {
        // What runs on every request: the interceptor, on the request's config.
        token: () => interceptor({ headers: {} }),
        tokenOf: (config) => config.headers.Authorization.slice('Bearer '.length),
        request: (url) => instance.get(url),
      };
    }

    case 'axios (fixed header)': {
      const { default: axios } = await import('axios');
      const instance = axios.create({ headers: { Authorization: `Bearer ${await tokenByHand(ctx)}` } });
      return { request: (url) => instance.get(url) };
    }
  }
  throw new Error(`unknown subject ${name}`);
}
