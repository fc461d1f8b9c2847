import type * as Zod from 'zod/mini';

/**
 * The zod schemas of what authorization servers send. zod is imported on first use, not with the
 * package: it is most of m2m-token's import time, and a process may start without ever parsing a
 * response (a cached token from a store, or a client built at startup and used later).
 */
function build(z: typeof Zod) {
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
let loaded: Schemas | undefined;
let loading: Promise<Schemas> | undefined;

/** Loads zod and builds the schemas, once. Every path that parses a response awaits this first. */
export function loadSchemas(): Promise<Schemas> {
  if (loading === undefined) {
    loading = import('zod/mini').then((z) => (loaded = build(z)));
    loading.catch(() => {
      loading = undefined;
    });
  }
  return loading;
}

/** The schemas, once {@link loadSchemas} has resolved. */
export function schemas(): Schemas {
  if (loaded === undefined) throw new Error('m2m-token: internal error: response schemas used before loadSchemas()');
  return loaded;
}
