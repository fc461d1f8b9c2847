import { nodeCrypto } from './node-crypto.js';

/**
 * The fingerprint of an access token that token stores share: SHA-256 of the token, base64url (43
 * characters). Stores compare tokens by it and announce invalidations with it
 * (`TokenStore.onInvalidate`), so the token itself never travels in a message.
 *
 * @example
 * ```ts
 * store.onInvalidate?.((key, fingerprint) => {
 *   if (fingerprint === tokenFingerprint(myToken)) console.log('another replica dropped my token');
 * });
 * ```
 */
export function tokenFingerprint(accessToken: string): string {
  return nodeCrypto().createHash('sha256').update(accessToken).digest('base64url');
}
