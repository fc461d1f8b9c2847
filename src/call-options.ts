import type { TokenError } from './errors.js';

/** Per-call options of {@link ClientCredentialsClient.getToken}. Unset fields take the client's. */
export interface GetTokenOptions {
  /** Scope for this token instead of the client's. */
  scope?: string | readonly string[] | undefined;
  /** Audience for this token instead of the client's. */
  audience?: string | undefined;
  /** Resource indicators (RFC 8707) for this token instead of the client's. */
  resource?: string | readonly string[] | undefined;
  /** Skip the cache and request a new token (joins a request already in flight for the same key). */
  forceRefresh?: boolean | undefined;
  /** Aborts this caller's wait (`ABORTED`); the shared request carries on for the others. */
  signal?: AbortSignal | undefined;
  /**
   * During a token endpoint cooldown, a caller without a usable token waits for the cooldown to end
   * (until its `signal` aborts; without one, at most `cooldown.max`) instead of getting `COOLDOWN` at once.
   * @default false
   */
  waitForCooldown?: boolean | undefined;
}

/** Options of {@link ClientCredentialsClient.close}. */
export interface CloseOptions {
  /**
   * Revoke every token the client holds (RFC 7009) before resolving, in parallel and best effort.
   * @default false
   */
  revoke?: boolean | undefined;
  /**
   * Most time the revocations may take, in ms; what is unfinished then is reported as a `TIMEOUT` error.
   * @default 5000
   */
  timeout?: number | undefined;
  /**
   * With a shared `store` (Redis), also revoke the tokens the rest of the fleet is using, and delete
   * them from the store. Without it, `revoke: true` leaves shared tokens alone (counted in `skipped`).
   * @default false
   */
  revokeShared?: boolean | undefined;
}

/** What {@link ClientCredentialsClient.close} did. It resolves with this; it never rejects. */
export interface CloseResult {
  /** How many tokens were revoked. */
  readonly revoked: number;
  /** One error per token that could not be revoked (or one `CONFIG` error if no endpoint is known). */
  readonly errors: readonly TokenError[];
  /** Tokens not revoked because they are shared with other processes through the store. */
  readonly skipped: number;
}
