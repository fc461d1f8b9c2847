/**
 * `m2m-token/testing`: a real OAuth 2.0 authorization server on 127.0.0.1 for the tests of services
 * that use m2m-token (or any client credentials client), and a token check for a test resource server.
 *
 * @example
 * ```ts
 * import { checkToken, createTestAuthorizationServer } from 'm2m-token/testing';
 * const server = await createTestAuthorizationServer({ scopes: ['orders:read'] });
 * // … point the code under test at server.issuer with client 'test-client' / 'test-secret' …
 * await server.close();
 * ```
 * @packageDocumentation
 */
export { checkToken } from './testing/check.js';
export { createTestAuthorizationServer } from './testing/server.js';
export type {
  ActiveTokenInfo,
  InjectedFailure,
  RequestCounts,
  TestAuthorizationServer,
  TestAuthorizationServerOptions,
  TestClient,
  TokenCheck,
  TokenInfo,
} from './testing/types.js';
