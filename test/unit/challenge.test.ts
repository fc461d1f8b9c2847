import { describe, expect, it } from 'vitest';
import { asksForNonce, isStaleTokenChallenge, observeNonce, shouldResendForNonce } from '../../src/fetch/challenge.js';
import { DPoP } from '../../src/protocol/dpop.js';

const NONCE = 'DPoP error="use_dpop_nonce", error_description="nonce please"';

describe('the 401 decisions shared by fetch, undici and axios', () => {
  it('a 401 without a challenge for the token’s scheme, or with invalid_token, means a stale token', () => {
    expect(isStaleTokenChallenge(null, 'Bearer')).toBe(true);
    expect(isStaleTokenChallenge('Basic realm="x"', 'Bearer')).toBe(true);
    expect(isStaleTokenChallenge('Bearer error="invalid_token"', 'Bearer')).toBe(true);
    expect(isStaleTokenChallenge('bearer realm="api"', 'Bearer')).toBe(true);
    expect(isStaleTokenChallenge('DPoP error="invalid_token"', 'DPoP')).toBe(true);
  });

  it('a 401 with another error for the token’s scheme does not', () => {
    expect(isStaleTokenChallenge('Bearer error="insufficient_scope"', 'Bearer')).toBe(false);
    expect(isStaleTokenChallenge('DPoP error="invalid_dpop_proof"', 'DPoP')).toBe(false);
  });

  it('a 401 or 400 with a DPoP use_dpop_nonce challenge asks for a nonce; other statuses and challenges do not', () => {
    expect(asksForNonce(401, NONCE)).toBe(true);
    expect(asksForNonce(400, NONCE)).toBe(true);
    expect(asksForNonce(403, NONCE)).toBe(false);
    expect(asksForNonce(401, 'Bearer error="use_dpop_nonce"')).toBe(false);
    expect(asksForNonce(401, null)).toBe(false);
  });

  it('a nonce is worth a resend only when the proof sent did not carry it', async () => {
    const dpop = new DPoP(true);
    const url = 'https://api.example.com/orders';
    const withoutNonce = await dpop.proof('GET', url, 'at');

    expect(observeNonce(dpop, url, 'n-1', withoutNonce)).toBe(true);
    const withNonce = await dpop.proof('GET', url, 'at');
    expect(observeNonce(dpop, url, 'n-1', withNonce)).toBe(false);
    expect(observeNonce(dpop, url, null, withNonce)).toBe(false);
    expect(observeNonce(undefined, url, 'n-1', undefined)).toBe(false);
    expect(observeNonce(dpop, url, 'bad\nvalue', withNonce)).toBe(false);
    expect(shouldResendForNonce(401, NONCE, true)).toBe(true);
    expect(shouldResendForNonce(401, NONCE, false)).toBe(false);
  });
});
