import { abortedError, asTokenError, type TokenError } from '../errors.js';
import type { HeldToken, Issued, TokenParams } from '../token.js';
import { nextTurn, noop } from '../util/abort.js';
import type { Clock } from '../util/clock.js';
import { retryAfterFailure, type SchedulePolicy, schedule } from './schedule.js';
import type { Waiters } from './waiting.js';

/** The wait a refusal by the client's own protections names (`COOLDOWN`, `BUDGET`), else undefined. */
function comeBackIn(error: TokenError): number | undefined {
  return error.code === 'COOLDOWN' || error.code === 'BUDGET' ? error.retryAfter : undefined;
}

/** What a token entry asks its acquirer for. */
export interface AcquireRequest {
  readonly entry: TokenEntry;
  /** Nobody waits for this request: callers are served the current token meanwhile. */
  readonly background: boolean;
  /** `forceRefresh`: a new token from the server, whatever a shared store holds. */
  readonly force: boolean;
  /** False once the entry was cleared (revocation) or the client closed since the request started. */
  isCurrent(): boolean;
}

/** Gets a token for an entry: the token endpoint, possibly behind decorators (shared store, backoff). */
export type Acquire = (request: AcquireRequest) => Promise<Issued>;

/** What every entry of a client shares. */
export interface EntryContext {
  readonly clock: Clock;
  readonly policy: SchedulePolicy;
  readonly acquire: Acquire;
  readonly waiters: Waiters;
  /** Aborted when the client closes; its reason is what callers then get. */
  readonly closed: AbortSignal;
  onToken(entry: TokenEntry, issued: Issued, duration: number, background: boolean): void;
  onError(entry: TokenEntry, error: TokenError, background: boolean): void;
}

/**
 * When the token fetched to replace a refused one is refused too (within this long of its arrival),
 * refusals of this entry's token do not drop it for this long: the resource server rejects every token, and a new one per call would only load
 * the token endpoint. Callers get the resource server's 401 meanwhile.
 */
export const REFUSAL_PAUSE = 10_000;

/**
 * A fresh token is handed out without reading the clock until a timer ends its fresh window, at its
 * refresh instant but at least this long before `usableUntil`: an event loop that runs its timers late
 * (blocked by a long synchronous call) still gets no token the clock no longer allows, unless it is
 * blocked for longer than this.
 */
export const STALL_GUARD = 30_000;

/** The longest delay Node's timers take (2³¹ − 1 ms, about 24.8 days). */
const MAX_TIMER_DELAY = 2 ** 31 - 1;

/** Cancels the timer of a fresh window whose entry was collected (evicted, or its client dropped unclosed). */
const orphanedWindows = new FinalizationRegistry<() => void>((cancel) => cancel());

/**
 * One key's token: its state, its rules, and its single request in flight.
 *
 * States, on the monotonic clock: *empty* (no token), *fresh* (usable, before `refreshAt`), *refresh due*
 * (usable, past `refreshAt`: the next call starts a background refresh and is served the current token),
 * *expired* (past `usableUntil`: callers wait for a new token). At most one request is in flight; every
 * caller joins it. Clearing bumps the generation, so a request already in flight does not fill the entry.
 */
export class TokenEntry {
  /** The cache key: scope, audience and resource as sets. */
  readonly key: string;
  readonly params: TokenParams;
  readonly #context: EntryContext;
  /** The context's clock, held directly for the hot path. */
  readonly #clock: Clock;
  #issued: Issued | undefined;
  /** `Promise.resolve(token)`, built once per token so the cached path allocates nothing. */
  #resolved: Promise<HeldToken> | undefined;
  #usableUntil = 0;
  #refreshAt = 0;
  /**
   * Set while the token is fresh: opened by a call that found it so (with a steady clock), ended by a
   * timer (see {@link STALL_GUARD}). The hot path then needs no clock read. Cancels that timer.
   */
  #endFresh: (() => void) | undefined;
  /** What the window's timer runs (made once: a clock that declines the timer costs no allocation). */
  readonly #onWindowEnd = TokenEntry.#windowEnd(new WeakRef(this));
  #inflight: Promise<HeldToken> | undefined;
  #generation = 0;
  /** The last token dropped after a refusal: never taken back from a shared store. */
  #discarded: string | undefined;
  /** A refusal dropped the previous token: the next token kept is its replacement. */
  #replacing = false;
  #replacement: HeldToken | undefined;
  #replacementUntil = 0;
  #refusalsPausedUntil = 0;

  constructor(key: string, params: TokenParams, context: EntryContext) {
    this.key = key;
    this.params = params;
    this.#context = context;
    this.#clock = context.clock;
  }

  /** The current token, usable or not. */
  get token(): HeldToken | undefined {
    return this.#issued?.token;
  }

  /** The last token dropped because a resource server refused it. */
  get discarded(): string | undefined {
    return this.#discarded;
  }

  /** The current token may be handed out. */
  isUsable(now: number): boolean {
    return this.#resolved !== undefined && now < this.#usableUntil;
  }

  /** A request for this entry is in flight. */
  isRefreshing(): boolean {
    return this.#inflight !== undefined;
  }

  /** A call now starts a background refresh: the token is usable, its refresh is due, none is in flight. */
  shouldRefresh(now: number): boolean {
    return this.isUsable(now) && now >= this.#refreshAt && !this.isRefreshing();
  }

  /**
   * A token for a caller: the current one while usable (starting a background refresh when due), else
   * the request in flight, else a new request. `force` skips the current token.
   */
  get(signal: AbortSignal | undefined, force: boolean): Promise<HeldToken> {
    // The hot path: `peek` is the one rule for handing out the current token at once.
    if (!force && signal?.aborted !== true && this.peek() !== undefined) return this.#resolved!;
    const { closed, waiters } = this.#context;
    if (closed.aborted) return Promise.reject(closed.reason);
    // Checked before starting a request: a caller that already gave up must not cause one.
    if (signal?.aborted) return Promise.reject(abortedError(signal));
    return waiters.wait(this.#inflight ?? this.#start(false, force), signal);
  }

  /**
   * The current token, synchronously, when {@link get} would hand it out at once: usable now. Starts
   * the background refresh when one is due, as `get` does. Undefined otherwise (empty, expired): the
   * caller then awaits `get`. For integrations that dispatch synchronously (the undici interceptor).
   */
  peek(): HeldToken | undefined {
    if (this.#endFresh !== undefined && this.#clock.steady()) return this.#issued!.token;
    if (this.#resolved === undefined) return undefined;
    const now = this.#clock.now();
    // Inline of isUsable / shouldRefresh: this is the hot path of `get` too.
    if (now >= this.#usableUntil) return undefined;
    if (now >= this.#refreshAt) {
      if (this.#inflight === undefined) this.#start(true, false);
    } else if (this.#clock.steady()) {
      this.#fresh(Math.min(this.#refreshAt, this.#usableUntil - STALL_GUARD) - now);
    }
    return this.#issued!.token;
  }

  /**
   * A resource server refused `token`: drops it if it is still the current one (compare-and-invalidate,
   * so any number of refusals of one token cause one refresh). Returns `'dropped'`, `'not-current'`
   * (already replaced: the caller may retry with the current token) or `'paused'`. When the
   * token that replaced a refused one is refused too, within {@link REFUSAL_PAUSE} of its arrival,
   * refusals are ignored for {@link REFUSAL_PAUSE}.
   */
  invalidate(token: HeldToken): 'dropped' | 'not-current' | 'paused' {
    if (this.#issued?.token !== token) return 'not-current';
    const now = this.#context.clock.now();
    if (now < this.#refusalsPausedUntil) return 'paused';
    if (this.#replacement === token && now < this.#replacementUntil) {
      this.#replacement = undefined;
      this.#refusalsPausedUntil = now + REFUSAL_PAUSE;
      return 'paused';
    }
    this.#drop();
    this.#discarded = token.accessToken;
    this.#replacing = true;
    return 'dropped';
  }

  /**
   * Forgets the current token, which must not be handed out any more (what it is bound to changed); a
   * request in flight still fills the entry.
   */
  forget(): void {
    this.#drop();
  }

  /** Forgets the token and makes a request in flight unable to fill the entry. Returns the token. */
  clear(): HeldToken | undefined {
    const token = this.token;
    this.#generation++;
    this.#inflight = undefined;
    this.#drop();
    return token;
  }

  #drop(): void {
    this.#stale();
    this.#issued = undefined;
    this.#resolved = undefined;
    this.#usableUntil = 0;
    this.#refreshAt = 0;
  }

  #start(background: boolean, force: boolean): Promise<HeldToken> {
    const { clock, closed, acquire, policy } = this.#context;
    const generation = this.#generation;
    const started = clock.now();
    const isCurrent = () => generation === this.#generation && !closed.aborted;
    const run = () => acquire({ entry: this, background, force, isCurrent });
    // A background refresh starts on the next turn of the event loop: the caller that made it due gets
    // its cached token without first paying for building and sending the request.
    const acquiring = background ? nextTurn().then(run) : run();
    const request: Promise<HeldToken> = acquiring.then(
      (issued) => {
        if (this.#inflight === request) this.#inflight = undefined;
        if (isCurrent()) this.#keep(issued);
        this.#context.onToken(this, issued, Math.round(clock.now() - started), background);
        return issued.token;
      },
      (cause: unknown) => {
        if (this.#inflight === request) this.#inflight = undefined;
        const error = asTokenError(cause);
        // Requests abandoned by close() are not failures worth reporting.
        if (!closed.aborted) this.#context.onError(this, error, background);
        // A failed background refresh: keep serving the current token and try again a little later. (A
        // request from before clear() says nothing about the token kept since.)
        const now = clock.now();
        if (isCurrent() && this.isUsable(now)) {
          this.#stale();
          this.#refreshAt = retryAfterFailure(now, this.#usableUntil, policy, comeBackIn(error));
        }
        throw error;
      },
    );
    this.#inflight = request;
    request.catch(noop);
    return request;
  }

  /** Opens a fresh window of `ms` (none when not positive; none is open): the next calls need no clock read. */
  #fresh(ms: number): void {
    if (ms <= 0 || ms > MAX_TIMER_DELAY) return;
    const cancel = this.#clock.after(ms, this.#onWindowEnd);
    if (cancel !== undefined) orphanedWindows.register(this, cancel, cancel);
    this.#endFresh = cancel;
  }

  /** Ends the fresh window: calls read the clock again. */
  #stale(): void {
    const cancel = this.#endFresh;
    if (cancel === undefined) return;
    this.#endFresh = undefined;
    orphanedWindows.unregister(cancel);
    cancel();
  }

  /**
   * What the timer of `entry`'s fresh window runs. It holds the entry weakly, and the timer goes with it:
   * an entry nobody else holds is collected.
   */
  static #windowEnd(entry: WeakRef<TokenEntry>): () => void {
    return () => {
      const self = entry.deref();
      if (self !== undefined) self.#stale();
    };
  }

  #keep(issued: Issued): void {
    const now = this.#context.clock.now();
    const { usableUntil, refreshAt } = schedule(issued.sentAt, issued.lifetime, now, this.#context.policy, undefined, issued.refreshIn);
    // Arrived too late to keep: handed to the callers waiting for it, not cached.
    if (usableUntil <= now) return;
    this.#issued = issued;
    this.#resolved = Promise.resolve(issued.token);
    this.#usableUntil = usableUntil;
    this.#refreshAt = refreshAt;
    // The window of the token replaced ends; the next call opens this one's.
    this.#stale();
    this.#replacement = this.#replacing ? issued.token : undefined;
    this.#replacementUntil = now + REFUSAL_PAUSE;
    this.#replacing = false;
  }
}
