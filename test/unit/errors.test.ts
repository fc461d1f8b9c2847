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
