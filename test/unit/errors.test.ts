import { describe, expect, it } from 'vitest';
import { OAuthError, TokenError } from '../../src/index.js';

describe('OAuthError', () => {
  it('keeps control characters of server text out of its message, so a server cannot forge log lines', () => {
    const error = new OAuthError({ error: 'invalid\r\nscope', errorDescription: 'bad\nINFO fake log line\u0000', status: 400 });

    expect(error.message).not.toMatch(/[\u0000-\u001f\u007f]/);
    expect(error.message).toContain('bad INFO fake log line');
    // The fields keep what the server sent.
    expect(error.errorDescription).toBe('bad\nINFO fake log line\u0000');
    expect(error.error).toBe('invalid\r\nscope');
  });

  it('is a TokenError with code OAUTH_ERROR and the status', () => {
    const error = new OAuthError({ error: 'invalid_client', status: 401 });

    expect(error).toBeInstanceOf(TokenError);
    expect(TokenError.is(error)).toBe(true);
    expect(error).toMatchObject({ code: 'OAUTH_ERROR', status: 401, name: 'OAuthError' });
  });
});

describe('OAuthError.is', () => {
  it('recognises OAuth errors, also across copies of the package, and nothing else', () => {
    expect(OAuthError.is(new OAuthError({ error: 'invalid_client', status: 401 }))).toBe(true);
    expect(OAuthError.is(new TokenError('NETWORK', 'connection refused'))).toBe(false);
    expect(OAuthError.is(new Error('x'))).toBe(false);
    expect(OAuthError.is(null)).toBe(false);
    // Another copy of the package brands its errors with the same registered symbol.
    const foreign = Object.defineProperty(new Error('x'), Symbol.for('m2m-token.OAuthError'), { value: true });
    expect(OAuthError.is(foreign)).toBe(true);
  });

  it('carries Retry-After on the error as retryAfter', () => {
    expect(new OAuthError({ error: 'slow_down', status: 429 }, { retryAfter: 2_000 }).retryAfter).toBe(2_000);
    expect(new TokenError('INVALID_RESPONSE', 'x', { status: 503, retryAfter: 1_000 }).retryAfter).toBe(1_000);
  });
});
