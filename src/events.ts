import { nodeCrypto } from './util/node-crypto.js';
import { channel } from 'node:diagnostics_channel';
import type { TokenError, TokenErrorCode } from './errors.js';
import type { TokenParams } from './token.js';

/** A token was acquired from the token endpoint (first or refreshed). */
export interface TokenEvent {
  /** The client's `clientId`. */
  readonly clientId: string;
  /** What the token is for: `scope=… audience=… resource=…` (the cache key, readable). */
  readonly key: string;
  /** A short SHA-256 fingerprint of the access token, to correlate logs without the token. */
  readonly fingerprint: string;
  /** When the token expires, in epoch ms. */
  readonly expiresAt: number;
  /** From the first attempt's start to the token, in ms. */
  readonly duration: number;
  /** How many attempts it took (1 without retries; 0 when taken from the token store). */
  readonly attempts: number;
  /** `server`: requested from the token endpoint; `store`: another process's token, from the token store. */
  readonly source: 'server' | 'store';
  /** True when a background refresh got it while callers were served the previous token. */
  readonly background: boolean;
}

/** A request failed transiently and will be sent again. */
export interface RetryEvent {
  /** The client's `clientId`. */
  readonly clientId: string;
  /** What was being requested: a token, a revocation, or the authorization server's metadata. */
  readonly operation: 'token' | 'revoke' | 'discovery';
  /** The attempt that failed, from 1. */
  readonly attempt: number;
  /** Wait before the next attempt, in ms (backoff, or the server's `Retry-After`). */
  readonly delay: number;
  /** The `code` of the error of the failed attempt. */
  readonly reason: TokenErrorCode;
  /** The HTTP status of the failed attempt, when it got a response. */
  readonly status: number | undefined;
}

/** An operation failed for good (after any retries). */
export interface ErrorEvent {
  /** The client's `clientId`. */
  readonly clientId: string;
  /**
   * `token`: a token could not be acquired (discovery failures included); `store`: the token store
   * failed and is bypassed for a while, callers are not affected. Failed revocations are `revoke`
   * events with `ok: false`.
   */
  readonly operation: 'token' | 'store';
  /** For `token`: what it was for, as in {@link TokenEvent.key}. */
  readonly key: string | undefined;
  /** The error; its message and cause are free of secrets. */
  readonly error: TokenError;
  /** True for a failed background refresh: callers are still being served the current token. */
  readonly background: boolean;
}

/** A token was revoked, or its revocation failed. */
export interface RevokeEvent {
  /** The client's `clientId`. */
  readonly clientId: string;
  /** A short SHA-256 fingerprint of the revoked token, as in {@link TokenEvent.fingerprint}. */
  readonly fingerprint: string;
  /** True when the revocation endpoint accepted the revocation. */
  readonly ok: boolean;
  /** Why it failed, when it did. */
  readonly error: TokenError | undefined;
  /** How long the revocation took, retries included, in ms. */
  readonly duration: number;
}

/**
 * The issuance budget (`budget` option) is 80 % used or more: one event per token request from then on
 * in the window, and one per request refused once it is spent (`exhausted`).
 */
export interface BudgetEvent {
  /** The client whose budget it is. */
  readonly clientId: string;
  /** Token requests sent in the current window (at most `limit`). */
  readonly used: number;
  /** The budget: most token requests per window. */
  readonly limit: number;
  /** The window, in ms. */
  readonly per: number;
  /** True when a token request was refused (`BUDGET`): no more until the window ends. */
  readonly exhausted: boolean;
}

/** The events of a client, by name. */
export interface ClientEventMap {
  /** A token was acquired or refreshed. */
  token: TokenEvent;
  /** A request failed transiently and will be sent again. */
  retry: RetryEvent;
  /** An operation failed for good. */
  error: ErrorEvent;
  /** A token was revoked, or its revocation failed. */
  revoke: RevokeEvent;
  /** The issuance budget is 80 % used or more, or spent. */
  budget: BudgetEvent;
}

/** An event name. */
export type ClientEventName = keyof ClientEventMap;

/** Every event name, once. */
export const EVENT_NAMES: readonly ClientEventName[] = Object.freeze(['token', 'retry', 'error', 'revoke', 'budget'] as const);

/**
 * A `node:diagnostics_channel` channel whose messages are events of type `T`: `subscribe` gets typed
 * payloads under strict TypeScript.
 */
export interface EventChannel<T> {
  /** The channel's name, for example `m2m-token:retry`. */
  readonly name: string;
  /** True when anyone subscribed. */
  readonly hasSubscribers: boolean;
  /** Calls `listener` with every event published. */
  subscribe(listener: (event: T, name: string | symbol) => void): void;
  /** Removes a listener added with `subscribe`; returns whether it was subscribed. */
  unsubscribe(listener: (event: T, name: string | symbol) => void): boolean;
  /** @internal */
  publish(event: T): void;
}

/** The channels of {@link diagnosticsChannels}, one per event. */
export interface DiagnosticsChannels {
  /** `m2m-token:token`: {@link TokenEvent}s. */
  readonly token: EventChannel<TokenEvent>;
  /** `m2m-token:retry`: {@link RetryEvent}s. */
  readonly retry: EventChannel<RetryEvent>;
  /** `m2m-token:error`: {@link ErrorEvent}s. */
  readonly error: EventChannel<ErrorEvent>;
  /** `m2m-token:revoke`: {@link RevokeEvent}s. */
  readonly revoke: EventChannel<RevokeEvent>;
  /** `m2m-token:budget`: {@link BudgetEvent}s. */
  readonly budget: EventChannel<BudgetEvent>;
}

/**
 * The `node:diagnostics_channel` channels the client publishes on, one per event: `m2m-token:token`,
 * `m2m-token:retry`, `m2m-token:error`, `m2m-token:revoke`, `m2m-token:budget`, typed with their payloads.
 * Nothing is built
 * when nobody subscribes.
 *
 * @example
 * ```ts
 * diagnosticsChannels.retry.subscribe((event) => console.warn(`token retry: ${event.reason}`));
 * ```
 */
export const diagnosticsChannels: DiagnosticsChannels = Object.freeze({
  token: channel('m2m-token:token') as unknown as EventChannel<TokenEvent>,
  retry: channel('m2m-token:retry') as unknown as EventChannel<RetryEvent>,
  error: channel('m2m-token:error') as unknown as EventChannel<ErrorEvent>,
  revoke: channel('m2m-token:revoke') as unknown as EventChannel<RevokeEvent>,
  budget: channel('m2m-token:budget') as unknown as EventChannel<BudgetEvent>,
});

/**
 * The logger shape accepted by the `logger` option: pino, bunyan and `console` fit. Each method is
 * called with a fields object first and a message second.
 */
export interface Logger {
  /** Tokens acquired. */
  debug?(fields: object, message: string): void;
  /** Tokens revoked. */
  info?(fields: object, message: string): void;
  /** Retries, failed background refreshes, failed revocations, a token store bypassed. */
  warn?(fields: object, message: string): void;
  /** Token requests that failed for good. */
  error?(fields: object, message: string): void;
}

const LOG: { [E in ClientEventName]: (event: ClientEventMap[E]) => [keyof Logger, string, object] } = {
  token: (e) => [
    'debug',
    `m2m-token: token ${e.source === 'store' ? 'taken from the store' : 'acquired'} for ${e.key || 'the default scope'}`,
    e,
  ],
  retry: (e) => [
    'warn',
    `m2m-token: ${e.operation} attempt ${e.attempt} failed (${e.reason}${e.status ? ` ${e.status}` : ''}), retrying in ${e.delay} ms`,
    e,
  ],
  error: (e) => [
    e.background ? 'warn' : 'error',
    `m2m-token: ${e.operation} failed: ${e.error.message}`,
    { ...e, error: { code: e.error.code, status: e.error.status, message: e.error.message } },
  ],
  revoke: (e) => [
    e.ok ? 'info' : 'warn',
    `m2m-token: token ${e.fingerprint} ${e.ok ? 'revoked' : `not revoked: ${e.error?.message}`}`,
    { ...e, error: e.error?.code },
  ],
  budget: (e) => [
    e.exhausted ? 'error' : 'warn',
    `m2m-token: issuance budget ${e.exhausted ? 'spent, token request refused' : 'nearly spent'}: ${e.used} of ${e.limit} per ${e.per} ms`,
    e,
  ],
};

/** A short fingerprint of a token: the first 12 characters of its base64url SHA-256. */
export function fingerprint(token: string): string {
  return nodeCrypto().createHash('sha256').update(token).digest('base64url').slice(0, 12);
}

/** Internal: the listeners, channels and logger of one client, cheap to ask whether anyone listens. */
export class Events {
  readonly #listeners = Object.fromEntries(EVENT_NAMES.map((name) => [name, new Set()])) as unknown as {
    [E in ClientEventName]: Set<(event: ClientEventMap[E]) => void>;
  };
  readonly #logger: Logger | undefined;

  constructor(logger: Logger | undefined) {
    this.#logger = logger;
  }

  on<E extends ClientEventName>(name: E, listener: (event: ClientEventMap[E]) => void): () => void {
    if (!EVENT_NAMES.includes(name)) throw new TypeError(`m2m-token: unknown event ${String(name)}`);
    if (typeof listener !== 'function') throw new TypeError('m2m-token: the listener must be a function');
    const listeners = this.#listeners[name] as Set<(event: ClientEventMap[E]) => void>;
    listeners.add(listener);
    return () => {
      listeners.delete(listener);
    };
  }

  /** True when an event of this name would reach anyone: build its payload only then. */
  wanted(name: ClientEventName): boolean {
    return this.#logger !== undefined || this.#listeners[name].size > 0 || diagnosticsChannels[name].hasSubscribers;
  }

  emit<E extends ClientEventName>(name: E, build: () => ClientEventMap[E]): void {
    if (!this.wanted(name)) return;
    const event = Object.freeze(build()) as ClientEventMap[E];
    (diagnosticsChannels[name] as EventChannel<ClientEventMap[E]>).publish(event);
    for (const listener of this.#listeners[name] as Set<(event: ClientEventMap[E]) => void>) {
      try {
        listener(event);
      } catch (error) {
        // A listener's failure must neither break token acquisition nor crash the process: warn.
        warn(`a '${name}' listener`, error);
      }
    }
    if (this.#logger !== undefined) {
      const [level, message, fields] = (LOG[name] as (event: ClientEventMap[E]) => [keyof Logger, string, object])(event);
      try {
        this.#logger[level]?.(fields, message);
      } catch (error) {
        warn(`the logger's ${level}()`, error);
      }
    }
  }
}

/**
 * A process warning of type `M2MTokenListenerWarning` for a listener or logger that threw. (Given an
 * `Error`, `process.emitWarning` would ignore the type and show it as a bare `Error`.)
 */
function warn(who: string, error: unknown): void {
  const detail = error instanceof Error ? error.stack : undefined;
  const reason = error instanceof Error ? error.message : String(error);
  process.emitWarning(`m2m-token: ${who} threw: ${reason}`, {
    type: 'M2MTokenListenerWarning',
    ...(detail === undefined ? {} : { detail }),
  });
}

/** A readable description of what a token is for, for events and logs: `scope=… audience=… resource=…`. */
export function describeKey({ scope, audience, resource, server }: TokenParams): string {
  const parts: string[] = [];
  if (scope.length > 0) parts.push(`scope=${scope.join(' ')}`);
  if (audience !== undefined) parts.push(`audience=${audience}`);
  if (resource.length > 0) parts.push(`resource=${resource.join(' ')}`);
  if (server !== undefined) parts.push(`issuer=${server.issuer}`);
  return parts.join(' ');
}
