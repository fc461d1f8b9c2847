import { setMaxListeners } from 'node:events';
import { ClientAuthChoice } from './client-auth-choice.js';
import { GuardedStore, storeKey, withSharedStore } from './acquire/shared-store.js';
import { withInvalidClientBackoff } from './acquire/invalid-client.js';
import { type CredentialUse, type VersionedAcquire, withCredentialRotation } from './acquire/credential-rotation.js';
import { withRefreshTokens } from './acquire/refresh-token.js';
import { CertificateBinding } from './acquire/certificate-binding.js';
import { credentialsFor } from './credentials.js';
import { withBudget } from './acquire/budget.js';
import { Cooldown, withCooldown } from './acquire/cooldown.js';
import { TokenEntries } from './cache/entries.js';
import type { Acquire, AcquireRequest, EntryContext } from './cache/token-entry.js';
import { Waiters } from './cache/waiting.js';
import { EndpointResolver } from './endpoints.js';
import { describeKey, Events, fingerprint } from './events.js';
import { followInvalidations } from './fleet-invalidation.js';
import type { FetchLike, ResolvedOptions } from './options.js';
import type { ClientAuth } from './protocol/client-auth.js';
import { DPoP } from './protocol/dpop.js';
import type { SendOptions } from './protocol/http.js';
import type { RevocationConfig } from './protocol/revocation.js';
import type { RetryInfo } from './protocol/retry.js';
import { type Grant, requestToken, type TokenEndpointConfig } from './protocol/token-request.js';
import { createTransport, type Transport } from './protocol/transport.js';
import { ResourceRegistry } from './resources/registry.js';
import { Revocations } from './revocations.js';
import { traceFetch } from './trace.js';
import type { AuthorizationServerRef } from './token.js';
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
  /** The resources found by discovery (RFC 9728), with `resourceDiscovery`. */
  readonly resources: ResourceRegistry | undefined;
  /** The DPoP key of a discovered server's tokens: the client's, or one made for resources that require DPoP. */
  dpopOf(server: AuthorizationServerRef | undefined): DPoP | undefined;
  /** The client's own fetch, when `tls` or `proxy` asks for one (closed with the client). */
  readonly transport: Transport | undefined;
  /** How requests to the authorization server are sent (tied to the client closing). */
  readonly send: SendOptions;
  /** The `fetch` of resource requests (`client.fetch`): the `fetch` option, or the mTLS one. */
  readonly fetch: FetchLike | undefined;
  /** The configuration of revocation requests, bounded by `signal` (none: not tied to closing). */
  revocationConfig(signal: AbortSignal | undefined): RevocationConfig;
  /** The store key of a cache key. */
  keyOf(cacheKey: string): string;
}

/**
 * Wires a client from its resolved options: the protocol configuration, the client authentication
 * (its credentials read through providers, its method and Basic encoding decided lazily:
 * {@link ClientAuthChoice}), the token request decorated (refresh tokens → new credentials after a
 * refusal → revoked tokens refused → issuance budget → `invalid_client` backoff → cooldown → shared
 * store → the client certificate asked for first), the cache entries (following the store's invalidations),
 * the events.
 */
export function assemble(options: ResolvedOptions, clock: Clock): Core {
  const { clientId, tls, store: userStore } = options;
  const events = new Events(options.logger);
  const closer = new AbortController();
  // Each token request in flight (one per cache entry at most) listens for the client closing.
  setMaxListeners(0, closer.signal);
  const waiters = new Waiters();
  closer.signal.addEventListener('abort', () => waiters.closeAll(closer.signal.reason));
  const dpop = options.dpop === undefined ? undefined : new DPoP(options.dpop);
  const credentials = credentialsFor(options, clock);
  const transport = createTransport(credentials.tls, options.proxy);
  const fetch = options.fetch ?? transport?.fetch;
  const send: SendOptions = {
    // Traced: the exchanges with the authorization server, not the resource requests of client.fetch.
    fetch: options.trace === undefined ? fetch : traceFetch(fetch ?? ((input, init) => globalThis.fetch(input, init)), options.trace),
    timeout: options.timeout,
    maxResponseBytes: options.maxResponseBytes,
    signal: closer.signal,
    // Updated in place when a provider returns a new secret or assertion.
    secrets: credentials.secrets,
  };
  const onRetry =
    (operation: 'token' | 'revoke' | 'discovery') =>
    ({ attempt, delay, error }: RetryInfo) =>
      events.emit('retry', () => ({ clientId, operation, attempt, delay, reason: error.code, status: error.status }));
  const endpoints = new EndpointResolver(options, (signal) => ({
    issuer: options.issuer!,
    issuerFromUrl: options.issuerFromUrl,
    tokenEndpoint: options.tokenEndpoint,
    revocationEndpoint: options.revocationEndpoint,
    allowInsecureHttp: options.allowInsecureHttp,
    mtls: typeof tls === 'function' || tls?.cert !== undefined,
    retry: options.retry,
    send: { ...send, signal },
    onRetry: onRetry('discovery'),
  }));
  // Resources that require DPoP get tokens bound to the client's key, or to one made for them.
  let resourceDpop: DPoP | undefined;
  const dpopOf = (server: AuthorizationServerRef | undefined) =>
    server?.dpop === undefined || server.dpop === dpop?.thumbprint ? dpop : resourceDpop;
  const discovery = options.resourceDiscovery;
  const resources =
    discovery &&
    new ResourceRegistry({
      allowed: discovery.authorizationServers,
      capacity: discovery.maxResources,
      send,
      discovery: (issuer) => ({
        ...endpoints.config(closer.signal),
        issuer,
        issuerFromUrl: false,
        tokenEndpoint: undefined,
        revocationEndpoint: undefined,
      }),
      dpopKey: () => {
        if (dpop !== undefined) return dpop.thumbprint;
        resourceDpop ??= new DPoP(true);
        return resourceDpop.thumbprint;
      },
    });
  const auth = new ClientAuthChoice(options, endpoints, closer.signal, credentials);
  const authenticate = auth.authenticate;

  // What tokens are bound to (DPoP key, client certificate) is part of the store key; a new certificate drops them.
  const certificate = new CertificateBinding(credentials.tls, () => entries, clock);
  const keyOf = certificate.storeKeys((cacheKey, x5t) => {
    const binding = [dpop && `jkt:${dpop.thumbprint}`, x5t && `x5t:${x5t}`].filter(Boolean).join(' ') || null;
    return storeKey([options.tokenEndpoint?.href ?? options.issuer, clientId, cacheKey, options.extraParams, binding]);
  });
  const store =
    userStore &&
    new GuardedStore(userStore, clock, (error) =>
      events.emit('error', () => ({ clientId, operation: 'store', key: undefined, error, background: true })),
    );

  // One cooldown and one budget per token endpoint and client, whatever the key (hashed for a store only).
  const endpointKey = store === undefined ? 'local' : storeKey([options.tokenEndpoint?.href ?? options.issuer, clientId]);
  const cooldown = new Cooldown(store, `${endpointKey}:cooldown`, options.cooldown, clock);

  let entries: TokenEntries;
  const revocations = new Revocations({
    clientId,
    get entries() {
      return entries;
    },
    store,
    keyOf,
    events,
    clock,
  });

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
  // A discovered server: its token endpoint, its issuer as the assertion audience, its DPoP key.
  const serverConfig = (server: AuthorizationServerRef): TokenEndpointConfig => ({
    ...tokenConfig,
    assertionAudience: (endpoint) => (options.assertionAudience === 'issuer' ? server.issuer : endpoint.href),
    dpop: dpopOf(server),
    // The cooldown is the client's own token endpoint's: another server's 429 does not start it.
    onFailure: undefined,
  });
  // Each request records the version of the credentials it sent: a refusal is retried with newer ones.
  const tokenRequest = async ({ entry, background }: AcquireRequest, used: CredentialUse, grant?: Grant) => {
    const { server } = entry.params;
    const record =
      (chosen: ClientAuth): ClientAuth =>
      async (body, headers, audience) => {
        await chosen(body, headers, audience);
        used.version = credentials.versions.current;
      };
    if (server !== undefined) {
      const config = serverConfig(server);
      return requestToken({ ...config, authenticate: record(config.authenticate) }, server.tokenEndpoint, entry.params, background, grant);
    }
    const endpoint = await endpoints.token(closer.signal);
    return auth.tokenRequest((chosen) =>
      requestToken({ ...tokenConfig, authenticate: record(chosen) }, endpoint, entry.params, background, grant),
    );
  };
  let versioned: VersionedAcquire = (request, used) => tokenRequest(request, used);
  if (options.refreshTokens) {
    versioned = withRefreshTokens(versioned, (request, used, refreshToken) =>
      tokenRequest(request, used, { type: 'refresh_token', refreshToken }),
    );
  }
  const base: Acquire = revocations.refuseRevoked(withCredentialRotation(versioned, credentials));
  // Budget, invalid_client backoff and cooldown are the own endpoint's, not a discovered server's.
  let own = base;
  if (options.budget !== undefined) {
    const onUsage = (usage: { used: number; limit: number; per: number; exhausted: boolean }) =>
      events.emit('budget', () => ({ clientId, ...usage }));
    own = withBudget(own, options.budget, { store, key: `${endpointKey}:budget`, clock, onUsage });
  }
  own = withInvalidClientBackoff(own, options.invalidClientBackoff, clock, credentials);
  own = withCooldown(own, cooldown);
  let acquire: Acquire = (request) => (request.entry.params.server === undefined ? own(request) : base(request));
  if (store !== undefined) {
    const { timeout: lockTtl, expiryMargin } = options;
    acquire = withSharedStore(acquire, store, {
      clock,
      keyOf,
      lockTtl,
      expiryMargin,
      closed: closer.signal,
      isRevoked: (v) => revocations.isRevoked(v),
    });
  }
  acquire = certificate.bind(acquire);

  const context: EntryContext = {
    clock,
    policy: {
      expiryMargin: options.expiryMargin,
      refreshRatio: options.refreshRatio,
      refreshJitter: options.refreshJitter,
      maxRetryDelay: options.retry.maxDelay,
    },
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
  entries = new TokenEntries(
    { scope: options.scope, audience: options.audience, resource: options.resource },
    options.maxCacheEntries,
    context,
  );
  if (store !== undefined) followInvalidations(store, entries, keyOf, closer.signal);

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
    resources,
    dpopOf,
    transport,
    send,
    fetch,
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
