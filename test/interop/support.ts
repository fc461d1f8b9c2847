/**
 * Helpers for the Django OAuth Toolkit suite: the server started by the global setup, its request
 * counters, and direct calls to its introspection and revocation endpoints (plain `fetch`, not the
 * client under test).
 */
import { afterEach, inject } from 'vitest';
import { ClientCredentialsClient, type ClientCredentialsOptions } from '../../src/index.js';
import type { DotClient, DotServerInfo } from './dot-server.js';

/** The DOT server of this run. */
export function dot(): DotServerInfo {
  return inject('dot');
}

/** Token endpoint of the server. */
export const tokenEndpoint = () => `${dot().url}/o/token/`;
/** Revocation endpoint of the server. */
export const revocationEndpoint = () => `${dot().url}/o/revoke_token/`;

/** Creates clients for one test; every client created is closed after the test. */
export function useClients(): (options: ClientCredentialsOptions) => ClientCredentialsClient {
  const created: ClientCredentialsClient[] = [];
  afterEach(async () => {
    await Promise.all(created.splice(0).map((client) => client.close()));
  });
  return (options) => {
    const client = new ClientCredentialsClient(options);
    created.push(client);
    return client;
  };
}

/** Requests the server has answered, keyed `"<METHOD> <path> <status>"`. */
export type RequestCounts = Record<string, number>;

async function requestCounts(): Promise<RequestCounts> {
  const response = await fetch(`${dot().url}/interop/counts/`);
  if (!response.ok) throw new Error(`counts: HTTP ${response.status}`);
  return ((await response.json()) as { requests: RequestCounts }).requests;
}

/**
 * Starts counting; `since()` resolves with the requests the server answered from then on, e.g.
 * `{ 'POST /o/token/ 200': 1 }` (keys with no new requests left out).
 */
export async function serverRequests(): Promise<{ since(): Promise<RequestCounts> }> {
  const before = await requestCounts();
  return {
    async since() {
      const after = await requestCounts();
      const delta: RequestCounts = {};
      for (const [key, n] of Object.entries(after)) if (n !== (before[key] ?? 0)) delta[key] = n - (before[key] ?? 0);
      return delta;
    },
  };
}

/** `user:password` of RFC 6749 §2.3.1: both parts form-encoded, then Base64. */
export function basicCredentials({ clientId, clientSecret }: DotClient): string {
  const form = (value: string) => new URLSearchParams([['', value]]).toString().slice(1);
  return `Basic ${Buffer.from(`${form(clientId)}:${form(clientSecret)}`).toString('base64')}`;
}

async function postForm(path: string, as: DotClient, form: Record<string, string>): Promise<Response> {
  return fetch(`${dot().url}${path}`, {
    method: 'POST',
    headers: { authorization: basicCredentials(as), 'content-type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams(form),
  });
}

/** Asks DOT's introspection endpoint (RFC 7662), as the resource server's application. */
export async function introspect(accessToken: string): Promise<Record<string, unknown>> {
  const response = await postForm('/o/introspect/', dot().clients.introspector, { token: accessToken });
  if (response.status !== 200) throw new Error(`introspection: HTTP ${response.status}`);
  return (await response.json()) as Record<string, unknown>;
}

/** Revokes a token at the server directly (RFC 7009), as `owner`, behind any client's back. */
export async function revokeAtServer(accessToken: string, owner: DotClient): Promise<void> {
  const response = await postForm('/o/revoke_token/', owner, { token: accessToken, token_type_hint: 'access_token' });
  if (response.status !== 200) throw new Error(`revocation: HTTP ${response.status}`);
}

export { recordingFetch, type SentRequest } from '../integration/support.js';
