import { setMaxListeners } from 'node:events';
import { GuardedStore, storeKey, withSharedStore } from './acquire/shared-store.js';
import { withInvalidClientBackoff } from './acquire/invalid-client.js';
import { withBudget } from './acquire/budget.js';
import { Cooldown, withCooldown } from './acquire/cooldown.js';
import { TokenEntries } from './cache/entries.js';
import type { Acquire, EntryContext } from './cache/token-entry.js';
import { Waiters } from './cache/waiting.js';
import { EndpointResolver } from './endpoints.js';
import { describeKey, Events, fingerprint } from './events.js';
import type { ResolvedOptions } from './options.js';
import { clientAuthFor, secretForms } from './protocol/client-auth.js';
import { DPoP } from './protocol/dpop.js';
import type { SendOptions } from './protocol/http.js';
import { certificateThumbprint, mtlsFetch } from './protocol/mtls.js';
import type { RevocationConfig } from './protocol/revocation.js';
import type { RetryInfo } from './protocol/retry.js';
import { requestToken, type TokenEndpointConfig } from './protocol/token-request.js';
import { Revocations } from './revocations.js';
import type { Clock } from './util/clock.js';

/** The parts of one client, wired: what the façade's methods use. */
export interface Core {
  readonly options: ResolvedOptions;
  readonly clock: Clock;
  readonly events: Events;
  /** Aborted by `close()`; its reason (`CLOSED`) is what later calls get. */
  readonly closer: AbortController;
  readonly waiters: Waiters;
  readonly entries: TokenEntries;
  readonly endpoints: EndpointResolver;
  readonly revocations: Revocations;
  readonly store: GuardedStore | undefined;
  /** The token endpoint's cooldown (429/503), shared through the store when it can. */
  readonly cooldown: Cooldown;
  readonly dpop: DPoP | undefined;
  readonly mtls: ReturnType<typeof mtlsFetch> | undefined;
  /** How requests to the authorization server are sent (tied to the client closing). */
  readonly send: SendOptions;
  /** The configuration of revocation requests, bounded by `signal` (none: not tied to closing). */
  revocationConfig(signal: AbortSignal | undefined): RevocationConfig;
  /** The store key of a cache key. */
  keyOf(cacheKey: string): string;
}

/**
 * Wires a client from its resolved options: the protocol configuration, the token request decorated
 * (revoked tokens refused → issuance budget → `invalid_client` backoff → cooldown → shared store), the
 * cache entries, the events.
 */
export function assemble(options: ResolvedOptions, clock: Clock): Core {
  const { clientId, clientSecret, clientAuth, signingKey, assertionLifetime, tls, store: userStore } = options;
  const events = new Events(options.logger);
  const closer = new AbortController();
  // Each token request in flight (one per cache entry at most) listens for the client closing.
  setMaxListeners(0, closer.signal);
  const waiters = new Waiters();
  closer.signal.addEventListener('abort', () => waiters.closeAll(closer.signal.reason));
  const dpop = options.dpop === undefined ? undefined : new DPoP(options.dpop);
  const mtls = tls === undefined ? undefined : mtlsFetch(tls);
  const send: SendOptions = {
    fetch: options.fetch ?? mtls?.fetch,
    timeout: options.timeout,
    maxResponseBytes: options.maxResponseBytes,
    signal: closer.signal,
    secrets: secretForms(clientId, clientSecret),
  };
  const onRetry = (operation: 'token' | 'revoke' | 'discovery') => (info: RetryInfo) =>
    events.emit('retry', () => ({ clientId, operation, attempt: info.attempt, delay: info.delay, reason: info.error.code, status: info.error.status }));
  const endpoints = new EndpointResolver(options, (signal) => ({
    issuer: options.issuer!,
    issuerFromUrl: options.issuerFromUrl,
    tokenEndpoint: options.tokenEndpoint,
    revocationEndpoint: options.revocationEndpoint,
    allowInsecureHttp: options.allowInsecureHttp,
    mtls: tls !== undefined,
    retry: options.retry,
    send: { ...send, signal },
    onRetry: onRetry('discovery'),
  }));
  const authenticate = clientAuthFor({ method: clientAuth, clientId, clientSecret, signingKey, assertionLifetime });

  // What tokens are bound to (DPoP key, client certificate) is part of the store key.
  const binding = [dpop && `jkt:${dpop.thumbprint}`, tls && `x5t:${certificateThumbprint(tls)}`].filter(Boolean).join(' ') || null;
  const storeKeys = new Map<string, string>();
  const keyOf = (cacheKey: string) => {
    let key = storeKeys.get(cacheKey);
    if (key === undefined) {
      key = storeKey([options.tokenEndpoint?.href ?? options.issuer, clientId, cacheKey, options.extraParams, binding]);
      if (storeKeys.size < 10_000) storeKeys.set(cacheKey, key);
    }
    return key;
  };
  const store =
    userStore &&
    new GuardedStore(userStore, clock, (error) => events.emit('error', () => ({ clientId, operation: 'store', key: undefined, error, background: true })));

  // One cooldown and one budget per token endpoint and client, whatever the key.
  const endpointKey = storeKey([options.tokenEndpoint?.href ?? options.issuer, clientId]);
  const cooldown = new Cooldown(store, `${endpointKey}:cooldown`, options.cooldown, clock);

  let entries: TokenEntries;
  const revocations = new Revocations({ clientId, get entries() { return entries; }, store, keyOf, events, clock });

  const tokenConfig: TokenEndpointConfig = {
    clientId,
    authenticate,
    assertionAudience: (endpoint) => endpoints.assertionAudience(endpoint, closer.signal),
    dpop,
    extraParams: options.extraParams,
    defaultLifetime: options.defaultLifetime,
    retry: options.retry,
    send,
    clock,
    onRetry: onRetry('token'),
    // Every 429/503 attempt starts the cooldown; with a shared cooldown, a background refresh then stops
    // (the callers have a token; the fleet's next attempt comes when the cooldown ends, under the lock).
    onFailure: (error, background) => !(cooldown.observe(error) && background && cooldown.shared),
  };
  let acquire: Acquire = async ({ entry, background }) =>
    requestToken(tokenConfig, await endpoints.token(closer.signal), entry.params, background);
  acquire = revocations.refuseRevoked(acquire);
  if (options.budget !== undefined) {
    const onUsage = (usage: { used: number; limit: number; per: number; exhausted: boolean }) => events.emit('budget', () => ({ clientId, ...usage }));
    acquire = withBudget(acquire, options.budget, { store, key: `${endpointKey}:budget`, clock, onUsage });
  }
  acquire = withInvalidClientBackoff(acquire, options.invalidClientBackoff, clock);
  acquire = withCooldown(acquire, cooldown);
  if (store !== undefined) {
    const { timeout: lockTtl, expiryMargin } = options;
    acquire = withSharedStore(acquire, store, { clock, keyOf, lockTtl, expiryMargin, closed: closer.signal, isRevoked: (v) => revocations.isRevoked(v) });
  }

  const context: EntryContext = {
    clock,
    policy: { expiryMargin: options.expiryMargin, refreshRatio: options.refreshRatio, refreshJitter: options.refreshJitter, maxRetryDelay: options.retry.maxDelay },
    acquire,
    waiters,
    closed: closer.signal,
    onToken: (entry, { token, attempts }, duration, background) =>
      events.emit('token', () => ({
        clientId,
        key: describeKey(entry.params),
        fingerprint: fingerprint(token.accessToken),
        expiresAt: token.expiresAt,
        duration,
        attempts,
        source: attempts === 0 ? 'store' : 'server',
        background,
      })),
    // A background refresh refused by the cooldown fails quietly: callers still have their token.
    onError: (entry, error, background) => {
      if (background && error.code === 'COOLDOWN') return;
      events.emit('error', () => ({ clientId, operation: 'token', key: describeKey(entry.params), error, background }));
    },
  };
  entries = new TokenEntries({ scope: options.scope, audience: options.audience, resource: options.resource }, options.maxCacheEntries, context);

  return {
    options,
    clock,
    events,
    closer,
    waiters,
    entries,
    endpoints,
    revocations,
    store,
    cooldown,
    dpop,
    mtls,
    send,
    keyOf,
    revocationConfig: (signal) => ({
      authenticate,
      assertionAudience: (endpoint) => endpoints.assertionAudience(endpoint, signal ?? closer.signal),
      retry: options.retry,
      send: { ...send, signal },
      onRetry: onRetry('revoke'),
    }),
  };
}
