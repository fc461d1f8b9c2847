import { randomUUID, generateKeyPairSync } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { SignJWT } from 'jose';
import { afterAll, describe, expect, it } from 'vitest';
import { API_SCOPES, type ClientMetadata } from '../../examples/support/embedded-server.js';
import { secretFromFile, TokenError } from '../../src/index.js';
import { rejectionOf, useClients } from '../helpers/core.js';
import { sleep, waitUntil } from '../helpers/time.js';
import { useAuthorizationServer } from './support.js';

const ASSERTING = 'external-assertion';
const key = generateKeyPairSync('ec', { namedCurve: 'P-256' }).privateKey;
const publicJwk = { ...(key.export({ format: 'jwk' }) as Record<string, unknown>), d: undefined, kid: 'ext-1', use: 'sig' };

const server = useAuthorizationServer({
  clients: [{ client_id: ASSERTING, token_endpoint_auth_method: 'private_key_jwt', jwks: { keys: [publicJwk as never] } }],
});
const newClient = useClients({});
const dir = mkdtempSync(join(tmpdir(), 'm2m-rotating-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** A client registered through the provider's adapter: its metadata, the secret included, can change at run time. */
async function registerDynamic(clientId: string, clientSecret: string): Promise<void> {
  const metadata: ClientMetadata = {
    client_id: clientId,
    client_secret: clientSecret,
    token_endpoint_auth_method: 'client_secret_basic',
    grant_types: ['client_credentials'],
    response_types: [],
    scope: API_SCOPES.join(' '),
  };
  const Client = (server().provider as unknown as { Client: { adapter: { upsert(id: string, payload: object): Promise<void> } } }).Client;
  await Client.adapter.upsert(clientId, metadata);
}

/** A `fetch` that counts the token responses of each status. */
function countingFetch() {
  const statuses: number[] = [];
  const counting: typeof globalThis.fetch = async (input, init) => {
    const response = await fetch(input, init);
    if (init?.method === 'POST') statuses.push(response.status);
    return response;
  };
  return { fetch: counting, statuses };
}

describe('a client secret rotated on the server while callers keep asking for tokens', () => {
  it('50 callers every 10 ms: no getToken() fails, and at most one request is refused', async () => {
    const as = server();
    const clientId = `rotating-${randomUUID()}`;
    const path = join(dir, `${clientId}.secret`);
    const before = `before-${randomUUID()}`;
    const after = `after-${randomUUID()}`;
    await registerDynamic(clientId, before);
    writeFileSync(path, `${before}\n`);
    const { fetch, statuses } = countingFetch();
    const sent: string[] = [];
    const reading = secretFromFile(path);
    const client = newClient({
      tokenEndpoint: as.tokenEndpoint,
      clientId,
      clientSecret: async () => {
        const secret = await reading();
        sent.push(secret);
        return secret;
      },
      fetch,
      retry: false,
    });

    await client.getToken();
    let failures = 0;
    let calls = 0;
    let stop = false;
    const caller = async () => {
      for (let i = 0; i < 200 && !stop; i++) {
        calls++;
        await client.getToken({ forceRefresh: true }).catch(() => failures++);
        await sleep(10);
      }
    };
    const callers = Array.from({ length: 50 }, caller);
    // Bounded: the callers stop after 200 calls each at most.
    await waitUntil(() => calls >= 500 || stop);
    // The rotation: the server takes the new secret; the mounted file follows, by the time the server
    // refuses the old secret (so a request is refused, and the provider then has the new secret).
    const emitter = as.provider as unknown as NodeJS.EventEmitter;
    emitter.once('grant.error', () => writeFileSync(path, `${after}\n`));
    await registerDynamic(clientId, after);
    const rotatedAt = calls;
    await waitUntil(() => calls >= rotatedAt + 500);
    stop = true;
    await Promise.all(callers);

    expect(statuses.length).toBeGreaterThan(10);
    expect(failures).toBe(0);
    // One extra request: the one refused with the old secret.
    expect(statuses.filter((s) => s !== 200)).toEqual([401]);
    expect(sent.at(-1)).toBe(after);
    expect(sent).toContain(before);
    const token = await client.getToken();
    expect((await as.introspect(token.accessToken)).client_id).toBe(clientId);
  });
});

/** A client assertion made "elsewhere": signed by the client's registered key, single use (a new `jti`). */
async function assertion(issuer: string, expiresIn = 60): Promise<string> {
  const now = Math.floor(Date.now() / 1000);
  return new SignJWT({ jti: randomUUID() })
    .setProtectedHeader({ alg: 'ES256', kid: 'ext-1' })
    .setIssuer(ASSERTING)
    .setSubject(ASSERTING)
    .setAudience(issuer)
    .setIssuedAt(now)
    .setExpirationTime(now + expiresIn)
    .sign(key);
}

describe('clientAssertion.token from a file against oidc-provider', () => {
  it('sends the file as it is now: each rewrite with a new signed JWT gets a token', async () => {
    const as = server();
    const path = join(dir, `${randomUUID()}.jwt`);
    writeFileSync(path, `${await assertion(as.issuer)}\n`);
    const client = newClient({ issuer: as.issuer, clientId: ASSERTING, clientAssertion: { token: { file: path } } });
    for (let round = 0; round < 3; round++) {
      const token = await client.getToken({ forceRefresh: true });
      expect((await as.introspect(token.accessToken)).client_id).toBe(ASSERTING);
      // oidc-provider accepts each assertion once (its jti): the next request needs the next one.
      writeFileSync(path, await assertion(as.issuer));
    }
  });

  it('an assertion refused (already used) is replaced by the file rewritten meanwhile, at once', async () => {
    const as = server();
    const path = join(dir, `${randomUUID()}.jwt`);
    writeFileSync(path, await assertion(as.issuer));
    const client = newClient({ issuer: as.issuer, clientId: ASSERTING, clientAssertion: { token: { file: path } } });
    await client.getToken();
    // The same assertion again is a replay: the server refuses it; the file is rewritten when it does.
    const emitter = as.provider as unknown as NodeJS.EventEmitter;
    const next = await assertion(as.issuer);
    let refusals = 0;
    const rewrite = () => {
      refusals++;
      writeFileSync(path, next);
    };
    emitter.on('grant.error', rewrite);
    try {
      const token = await client.getToken({ forceRefresh: true });
      expect((await as.introspect(token.accessToken)).client_id).toBe(ASSERTING);
    } finally {
      emitter.off('grant.error', rewrite);
    }
    expect(refusals).toBe(1);
  });

  it('an expired assertion in the file is a CONFIG error, and nothing is sent', async () => {
    const as = server();
    const path = join(dir, `${randomUUID()}.jwt`);
    const expired = await assertion(as.issuer, -30);
    writeFileSync(path, expired);
    const client = newClient({ tokenEndpoint: as.tokenEndpoint, clientId: ASSERTING, clientAssertion: { token: { file: path } } });
    const error = await rejectionOf(client.getToken());
    expect(TokenError.is(error) && error.code).toBe('CONFIG');
    expect(error.message).not.toContain(expired);
  });
});
