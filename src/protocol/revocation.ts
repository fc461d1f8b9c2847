import type { ClientAuth } from './client-auth.js';
import { postForm, type SendOptions } from './http.js';
import { type RetryInfo, type RetryPolicy, withRetry } from './retry.js';
import { errorFromResponse } from './token-response.js';

/** What a revocation request needs: the client's configuration, stateless. */
export interface RevocationConfig {
  readonly authenticate: ClientAuth;
  /** The `aud` of a client assertion sent to `endpoint`. */
  readonly assertionAudience: (endpoint: URL) => string | Promise<string>;
  readonly retry: RetryPolicy;
  readonly send: SendOptions;
  readonly onRetry?: ((info: RetryInfo) => void) | undefined;
}

/**
 * Revokes one token (RFC 7009 §2.1) with `token_type_hint`, retrying transient failures. The token is
 * redacted from the server's text in errors too: a server may name it in its `error_description`.
 *
 * @see https://www.rfc-editor.org/rfc/rfc7009#section-2.1
 */
export function revokeToken(
  config: RevocationConfig,
  endpoint: URL,
  token: string,
  hint: 'access_token' | 'refresh_token' = 'access_token',
): Promise<void> {
  const secrets = [token, new URLSearchParams({ token }).toString().slice(6), ...(config.send.secrets ?? [])];
  return withRetry(
    async () => {
      const result = await postForm(endpoint, new URLSearchParams({ token, token_type_hint: hint }), config.send, (body, headers) =>
        config.authenticate(body, headers, () => config.assertionAudience(endpoint)),
      );
      if (result.status < 200 || result.status > 299) throw errorFromResponse(result, 'revocation', secrets);
    },
    config.retry,
    { signal: config.send.signal, onRetry: config.onRetry },
  );
}
