import * as z from 'zod/mini';

// Bounded like the string form (under 10^12 s): a larger number would give an expiry past what a Date
// can hold, or Infinity (1e308 × 1000).
const numeric = z.union([z.number().check(z.nonnegative(), z.lt(1e12)), z.string().check(z.regex(/^\d{1,12}(\.\d+)?$/))]);
const url = z.string().check(z.minLength(1));

/**
 * The zod schemas of what authorization servers send, built once when the module loads: nothing slow
 * stands between a response and its checks. zod/mini is bundled into the build and tree-shaken to what
 * these use — which holds only while `z` is used as `z.member` (passing the namespace itself anywhere
 * makes the bundler keep all of zod, locales included: 700 kB).
 */
export const schemas = {
  /** The RFC 6749 §5.1 successful response members the client uses. */
  TokenResponse: z.object({
    // Visible ASCII only: the token goes into an HTTP header (RFC 6750 §2.1 b64token is narrower still).
    access_token: z.string().check(z.regex(/^[\x21-\x7e]+$/)),
    token_type: z.optional(z.string().check(z.regex(/^[\w!#$%&'*+.^`|~-]+$/))),
    expires_in: z.optional(z.nullable(numeric)),
    scope: z.optional(z.nullable(z.string())),
  }),
  /** `refresh_in` (Microsoft Entra): seconds after which the client should refresh the token. */
  RefreshIn: numeric,
  /** The RFC 6749 §5.2 error response. */
  ErrorResponse: z.object({
    error: z.string().check(z.minLength(1)),
    error_description: z.optional(z.unknown()),
    error_uri: z.optional(z.unknown()),
  }),
  /** The authorization server metadata members the client uses (RFC 8414 §2). */
  Metadata: z.object({
    issuer: url,
    token_endpoint: z.optional(url),
    revocation_endpoint: z.optional(url),
    introspection_endpoint: z.optional(url),
    token_endpoint_auth_methods_supported: z.optional(z.array(z.string())),
    mtls_endpoint_aliases: z.optional(z.record(z.string(), z.string())),
  }),
  /** The protected resource metadata members the client uses (RFC 9728 §2). */
  ResourceMetadata: z.object({
    resource: url,
    authorization_servers: z.optional(z.array(url).check(z.maxLength(100))),
    scopes_supported: z.optional(z.array(z.string()).check(z.maxLength(1000))),
    dpop_bound_access_tokens_required: z.optional(z.boolean()),
  }),
};
