import * as z from 'zod/mini';
import { onFirstUse } from '../util/on-first-use.js';

// Bounded like the string form (under 10^12 s): a larger number would give an expiry past what a Date
// can hold, or Infinity (1e308 × 1000).
const numeric = onFirstUse(() => z.union([z.number().check(z.nonnegative(), z.lt(1e12)), z.string().check(z.regex(/^\d{1,12}(\.\d+)?$/))]));

const tokenResponse = onFirstUse(() =>
  z.object({
    // Visible ASCII only: the token goes into an HTTP header (RFC 6750 §2.1 b64token is narrower still).
    access_token: z.string().check(z.regex(/^[\x21-\x7e]+$/)),
    token_type: z.optional(z.string().check(z.regex(/^[\w!#$%&'*+.^`|~-]+$/))),
    expires_in: z.optional(z.nullable(numeric())),
    scope: z.optional(z.nullable(z.string())),
  }),
);

/**
 * Builds the token response's schemas now if they are not built yet, and parses once with them (zod
 * compiles its fast path on the first parse: 0.6 ms, then 0.06). A token request calls it before its
 * clock starts, so that nothing slow stands between a token response and its expiry check.
 */
export const buildTokenSchemas: () => void = onFirstUse(() => {
  tokenResponse().safeParse({ access_token: 'x', token_type: 'Bearer', expires_in: 60, scope: 'x' });
  return true;
});

/**
 * The zod schemas of what authorization servers send, each built on first use (the members are
 * getters): importing m2m-token builds none. zod/mini is bundled into the build and tree-shaken to what
 * these use — which holds only while `z` is used as `z.member` (passing the namespace itself anywhere
 * makes the bundler keep all of zod, locales included: 700 kB).
 */
export const schemas = {
  /** The RFC 6749 §5.1 successful response members the client uses. */
  get TokenResponse() {
    return tokenResponse();
  },
  /** `refresh_in` (Microsoft Entra): seconds after which the client should refresh the token. */
  get RefreshIn() {
    return numeric();
  },
  /** The RFC 6749 §5.2 error response. */
  get ErrorResponse() {
    return errorResponse();
  },
  /** The authorization server metadata members the client uses (RFC 8414 §2). */
  get Metadata() {
    return metadata();
  },
  /** The protected resource metadata members the client uses (RFC 9728 §2). */
  get ResourceMetadata() {
    return resourceMetadata();
  },
};

const errorResponse = onFirstUse(() =>
  z.object({
    error: z.string().check(z.minLength(1)),
    error_description: z.optional(z.unknown()),
    error_uri: z.optional(z.unknown()),
  }),
);

/** The URL members: non-empty strings (their form is checked where they are used). */
const nonEmpty = () => z.string().check(z.minLength(1));

const metadata = onFirstUse(() => {
  const url = nonEmpty();
  return z.object({
    issuer: url,
    token_endpoint: z.optional(url),
    revocation_endpoint: z.optional(url),
    introspection_endpoint: z.optional(url),
    token_endpoint_auth_methods_supported: z.optional(z.array(z.string())),
    mtls_endpoint_aliases: z.optional(z.record(z.string(), z.string())),
  });
});

const resourceMetadata = onFirstUse(() => {
  const url = nonEmpty();
  return z.object({
    resource: url,
    authorization_servers: z.optional(z.array(url).check(z.maxLength(100))),
    scopes_supported: z.optional(z.array(z.string()).check(z.maxLength(1000))),
    dpop_bound_access_tokens_required: z.optional(z.boolean()),
  });
});
