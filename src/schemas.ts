import * as z from 'zod/mini';

/**
 * The zod schemas of what authorization servers send, built when the module loads, so the first token
 * response pays nothing for them. The published build bundles the parts of `zod/mini` they use (the
 * package has no runtime dependencies), which Node.js loads with the rest of the package.
 */
function build() {
  // Bounded like the string form (under 10^12 s): a larger number would give an expiry past what a Date
  // can hold, or Infinity (1e308 × 1000).
  const numeric = z.union([z.number().check(z.nonnegative(), z.lt(1e12)), z.string().check(z.regex(/^\d{1,12}(\.\d+)?$/))]);
  const url = z.string().check(z.minLength(1));
  return {
    /** The RFC 6749 §5.1 successful response members the client uses. */
    TokenResponse: z.object({
      // Visible ASCII only: the token goes into an HTTP header (RFC 6750 §2.1 b64token is narrower still).
      access_token: z.string().check(z.regex(/^[\x21-\x7e]+$/)),
      token_type: z.optional(z.string().check(z.regex(/^[\w!#$%&'*+.^`|~-]+$/))),
      expires_in: z.optional(z.nullable(numeric)),
      scope: z.optional(z.nullable(z.string())),
    }),
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
  };
}

type Schemas = ReturnType<typeof build>;
const built: Schemas = build();
const ready: Promise<Schemas> = Promise.resolve(built);

/**
 * The schemas, already built: kept for the callers that await it before parsing.
 * @deprecated Use {@link schemas}; the schemas are built when the module loads.
 */
export function loadSchemas(): Promise<Schemas> {
  return ready;
}

/** The response schemas. */
export function schemas(): Schemas {
  return built;
}
