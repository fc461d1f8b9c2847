import type { ClientAuthMethod } from './options.js';

/** The client credentials used to authenticate to an endpoint. */
export interface ClientCredentials {
  readonly method: ClientAuthMethod;
  readonly clientId: string;
  readonly clientSecret: string | undefined;
}

/** application/x-www-form-urlencoded encoding of one value, as RFC 6749 §2.3.1 requires for Basic. */
function formEncode(value: string): string {
  return new URLSearchParams([['', value]]).toString().slice(1);
}

/**
 * Adds client authentication (RFC 6749 §2.3.1) to a request's form body and headers.
 * `client_secret_basic` form-encodes the id and secret before base64, so secrets with `:`, `%`, `+`,
 * spaces or non-ASCII characters survive; `client_secret_post` sends both in the body; `none` sends
 * only `client_id`.
 *
 * @see https://www.rfc-editor.org/rfc/rfc6749#section-2.3.1
 */
export function applyClientAuth(credentials: ClientCredentials, body: URLSearchParams, headers: Record<string, string>): void {
  const { method, clientId, clientSecret = '' } = credentials;
  switch (method) {
    case 'client_secret_basic':
      headers.authorization = `Basic ${Buffer.from(`${formEncode(clientId)}:${formEncode(clientSecret)}`).toString('base64')}`;
      return;
    case 'client_secret_post':
      body.set('client_id', clientId);
      body.set('client_secret', clientSecret);
      return;
    case 'none':
      body.set('client_id', clientId);
      return;
  }
}
