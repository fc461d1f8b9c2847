import { afterAll, beforeAll } from 'vitest';
import {
  type AuthorizationServer,
  type AuthorizationServerOptions,
  startAuthorizationServer,
} from '../../examples/support/embedded-server.js';

/**
 * Starts one embedded authorization server for the test file (beforeAll) and stops it (afterAll).
 * Returns a getter, since the server only exists once beforeAll has run.
 */
export function useAuthorizationServer(options?: AuthorizationServerOptions): () => AuthorizationServer {
  let server: AuthorizationServer | undefined;
  beforeAll(async () => {
    server = await startAuthorizationServer(options);
  });
  afterAll(async () => {
    await server?.close();
  });
  return () => {
    if (server === undefined) throw new Error('the authorization server is not running');
    return server;
  };
}

/** A request the client sent, as the `fetch` it was given saw it. */
export interface SentRequest {
  readonly method: string;
  readonly url: string;
  readonly headers: Headers;
  readonly form: URLSearchParams;
}

/** A `fetch` that records each request before passing it on to the real `fetch`. */
export function recordingFetch(): { fetch: typeof globalThis.fetch; sent: SentRequest[] } {
  const sent: SentRequest[] = [];
  const recording: typeof globalThis.fetch = async (input, init) => {
    const url = input instanceof Request ? input.url : String(input);
    const body = typeof init?.body === 'string' ? init.body : init?.body instanceof URLSearchParams ? init.body.toString() : '';
    sent.push({ method: init?.method ?? 'GET', url, headers: new Headers(init?.headers), form: new URLSearchParams(body) });
    return fetch(input, init);
  };
  return { fetch: recording, sent };
}

/** Counts how often the provider emits `event` from now on; stop with `off()`. */
export function countEvents(server: AuthorizationServer, event: string): { count(): number; off(): void } {
  let n = 0;
  const listener = () => {
    n++;
  };
  // oidc-provider is an EventEmitter; its typings list only some event names.
  const emitter = server.provider as unknown as NodeJS.EventEmitter;
  emitter.on(event, listener);
  return { count: () => n, off: () => emitter.off(event, listener) };
}

/** Decodes `user:password` of an HTTP Basic header, undoing the RFC 6749 §2.3.1 form encoding. */
export function decodeBasic(header: string | null): { clientId: string; clientSecret: string } | undefined {
  const match = /^Basic (\S+)$/.exec(header ?? '');
  if (match === null) return undefined;
  const decoded = Buffer.from(match[1]!, 'base64').toString('utf8');
  const colon = decoded.indexOf(':');
  const decode = (part: string) => decodeURIComponent(part.replace(/\+/g, '%20'));
  return { clientId: decode(decoded.slice(0, colon)), clientSecret: decode(decoded.slice(colon + 1)) };
}
