import { setMaxListeners } from 'node:events';
import type { Core } from './assemble.js';
import { asTokenError, TokenError } from './errors.js';
import type { CloseOptions, CloseResult } from './call-options.js';
import { defaults } from './options.js';
import { type Held, refreshTokensOf, revocable } from './revocations.js';
import { noop } from './util/abort.js';

/**
 * Closes a client: forgets every token (so the cached path, which has no closed check, finds none),
 * aborts requests in flight and waits, then revokes what was held when asked to, within `timeout`.
 * Never rejects.
 */
export async function closeClient(core: Core, options: CloseOptions): Promise<CloseResult> {
  const held = core.revocations.forgetAll();
  core.closer.abort(new TokenError('CLOSED', 'the client was closed'));
  try {
    return await revokeOnClose(core, held, options);
  } finally {
    await core.transport?.close().catch(noop);
  }
}

async function revokeOnClose(core: Core, held: readonly Held[], options: CloseOptions): Promise<CloseResult> {
  const { revoke = false, timeout = defaults.closeTimeout, revokeShared = false } = options;
  const values = revocable(held);
  if (!revoke || values.length === 0) return { revoked: 0, errors: [], skipped: 0 };
  if (core.store?.store.shared === true && !revokeShared) return { revoked: 0, errors: [], skipped: values.length };
  const deadline = new AbortController();
  // Every revocation request (one per held token) listens for the deadline.
  setMaxListeners(0, deadline.signal);
  const timer = setTimeout(
    () => deadline.abort(new TokenError('TIMEOUT', `revocation on close did not finish within ${timeout} ms`)),
    timeout,
  );
  timer.unref?.();
  try {
    const endpoint = await core.endpoints.revocation(deadline.signal);
    await core.revocations.unshare(held);
    const errors = await core.revocations.revokeAll(endpoint, core.revocationConfig(deadline.signal), values, refreshTokensOf(held));
    return { revoked: values.length - errors.length, errors, skipped: 0 };
  } catch (error) {
    return { revoked: 0, errors: [asTokenError(error)], skipped: 0 };
  } finally {
    clearTimeout(timer);
  }
}
