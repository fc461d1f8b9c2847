/**
 * HTTP tracing for troubleshooting: a `fetch` wrapper that reports every exchange with every secret
 * redacted by where it sits (header, form field, JSON member, query parameter), never by knowing the
 * secret's value.
 *
 * @module
 */

/**
 * One HTTP exchange with the authorization server, as the `trace` option (and the CLI's `--verbose`)
 * reports it. Every secret is already redacted:
 *
 * - headers `Authorization` and `Proxy-Authorization` keep only their scheme (`Basic [REDACTED]`);
 *   `Cookie`, `Set-Cookie` and `X-Api-Key` are `[REDACTED]`; a `DPoP` proof shows its decoded JWS header
 *   and claims, never its signature;
 * - form and JSON bodies (and URL query parameters) have their secret members (`client_secret`,
 *   `client_assertion`, `access_token`, `refresh_token`, `token`, `id_token`, `password`, …) replaced
 *   by `[REDACTED]`, at any depth of a JSON document;
 * - a JSON or form body that cannot be parsed (or was cut at the size limit) is not shown at all.
 */
export interface TraceExchange {
  /** Request method, upper case. */
  readonly method: string;
  /** Request URL, with secret query parameters and any password redacted. */
  readonly url: string;
  /** Response status; `undefined` when no response arrived (see `error`). */
  readonly status: number | undefined;
  /** Milliseconds from sending the request to the response headers (or to the failure). */
  readonly durationMs: number;
  /** Request headers, lower-case names, redacted. */
  readonly requestHeaders: Readonly<Record<string, string>>;
  /** Request body, redacted; `undefined` without a body. */
  readonly requestBody: string | undefined;
  /** Response headers, lower-case names, redacted; empty without a response. */
  readonly responseHeaders: Readonly<Record<string, string>>;
  /** Response body (read from a clone, at most `maxBodyBytes`), redacted; `undefined` without a body. */
  readonly responseBody: string | undefined;
  /** Why the request failed (no response): the error's message and, when Node gives one, its `code`. */
  readonly error?: string;
}

/** Receives each {@link TraceExchange}. Errors it throws are ignored; it must not throw into the request. */
export type TraceSink = (exchange: TraceExchange) => void;

/** Options of {@link traceFetch}. */
export interface TraceFetchOptions {
  /** Most bytes of a response body read (from a clone) for the trace. @default 65536 */
  maxBodyBytes?: number;
}

/** What replaces a secret. */
export const REDACTED = '[REDACTED]';

/**
 * Names of form fields, JSON members and query parameters whose values are secrets: credentials
 * (RFC 6749 §2.3.1, RFC 7523), tokens (RFC 6749 §5.1, RFC 7009, RFC 7662, RFC 8693), codes and passwords.
 */
export const SECRET_FIELDS: ReadonlySet<string> = new Set([
  'client_secret',
  'client_assertion',
  'assertion',
  'password',
  'code',
  'code_verifier',
  'device_code',
  'token',
  'access_token',
  'refresh_token',
  'id_token',
  'subject_token',
  'actor_token',
  'registration_access_token',
]);

const SCHEME_ONLY = new Set(['authorization', 'proxy-authorization']);
const HIDDEN_HEADERS = new Set(['cookie', 'set-cookie', 'x-api-key', 'api-key']);

const DEFAULT_MAX_BODY_BYTES = 65_536;

/** A JWS's decoded header and claims (never its signature), or `undefined` if it is not a JWS. */
function decodeJws(value: string): { header: unknown; claims: unknown } | undefined {
  const parts = value.split('.');
  if (parts.length !== 3) return undefined;
  try {
    const decode = (part: string) => JSON.parse(Buffer.from(part, 'base64url').toString('utf8')) as unknown;
    return { header: decode(parts[0]!), claims: decode(parts[1]!) };
  } catch {
    return undefined;
  }
}

/** One header value, redacted by name. */
export function redactHeader(name: string, value: string): string {
  const lower = name.toLowerCase();
  if (SCHEME_ONLY.has(lower)) {
    const scheme = /^\s*([A-Za-z][\w!#$%&'*+.^`|~-]*)\s/.exec(value)?.[1];
    return scheme === undefined ? REDACTED : `${scheme} ${REDACTED}`;
  }
  if (HIDDEN_HEADERS.has(lower)) return REDACTED;
  if (lower === 'dpop') {
    const decoded = decodeJws(value.trim());
    return decoded === undefined ? REDACTED : `${JSON.stringify(decoded)} (signature ${REDACTED})`;
  }
  return value;
}

function redactHeaders(headers: Headers): Record<string, string> {
  const out: Record<string, string> = {};
  headers.forEach((value, name) => {
    out[name] = redactHeader(name, value);
  });
  // Headers.forEach joins Set-Cookie lines; redactHeader hides them anyway.
  return out;
}

/** Form parameters `a=b&c=d` with secret fields redacted (kept readable: `[` and `]` not encoded). */
export function redactForm(form: string): string {
  const params = new URLSearchParams(form);
  const parts: string[] = [];
  params.forEach((value, name) => {
    const key = encodeURIComponent(name);
    parts.push(SECRET_FIELDS.has(name) ? `${key}=${REDACTED}` : `${key}=${encodeURIComponent(value)}`);
  });
  return parts.join('&');
}

/** A JSON value with every member named in {@link SECRET_FIELDS} redacted, at any depth. */
export function redactJson(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(redactJson);
  if (typeof value === 'object' && value !== null) {
    const out: Record<string, unknown> = {};
    for (const [key, member] of Object.entries(value)) out[key] = SECRET_FIELDS.has(key) ? REDACTED : redactJson(member);
    return out;
  }
  return value;
}

/** A URL with secret query parameters and any user name or password redacted. */
export function redactUrl(input: string): string {
  let url: URL;
  try {
    url = new URL(input);
  } catch {
    return REDACTED;
  }
  const userinfo = url.username || url.password ? `${REDACTED}@` : '';
  const query = url.search ? `?${redactForm(url.search.slice(1))}` : '';
  return `${url.protocol}//${userinfo}${url.host}${url.pathname}${query}`;
}

/**
 * A body, redacted according to its media type: JSON and form bodies field by field; a JSON or form
 * body that does not parse (or was truncated) is not shown; other text is shown; binary is summarised.
 */
export function redactBody(text: string, contentType: string | null, truncated = false): string {
  const type = (contentType ?? '').split(';')[0]!.trim().toLowerCase();
  const json = type === 'application/json' || type.endsWith('+json');
  const form = type === 'application/x-www-form-urlencoded';
  if (truncated && (json || form || type === '')) return `[${type || 'body'} cut at the trace size limit: not shown]`;
  if (json || type === '') {
    try {
      return JSON.stringify(redactJson(JSON.parse(text)));
    } catch {
      if (json) return `[${text.length} characters of unparseable JSON: not shown]`;
    }
  }
  if (form || type === '') return redactForm(text);
  if (type.startsWith('text/') || type.endsWith('+xml') || type === 'application/xml') return truncated ? `${text} […]` : text;
  return `[${text.length} characters of ${type}: not shown]`;
}

/** Reads at most `limit` bytes of a body; cancels the rest (of this clone only). */
async function readBounded(body: ReadableStream<Uint8Array>, limit: number): Promise<{ text: string; truncated: boolean }> {
  const reader = body.getReader();
  const chunks: Uint8Array[] = [];
  let size = 0;
  let truncated = false;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    chunks.push(value);
    size += value.byteLength;
    if (size > limit) {
      truncated = true;
      // Not awaited: cancelling one branch of a tee settles only once the other branch is cancelled too.
      reader.cancel().catch(() => {});
      break;
    }
  }
  const bytes = Buffer.concat(chunks).subarray(0, limit);
  return { text: new TextDecoder().decode(bytes), truncated };
}

function requestBodyText(body: unknown): string | undefined {
  if (body === undefined || body === null) return undefined;
  if (typeof body === 'string') return body;
  if (body instanceof URLSearchParams) return body.toString();
  return undefined;
}

/** The message of a failed fetch, with the `code` Node puts on its cause (ECONNREFUSED, CERT_HAS_EXPIRED, …). */
function describeFailure(error: unknown): string {
  const codes: string[] = [];
  let current: unknown = error;
  for (let depth = 0; depth < 5 && typeof current === 'object' && current !== null; depth++) {
    const code = (current as { code?: unknown }).code;
    if (typeof code === 'string') codes.push(code);
    current = (current as { cause?: unknown }).cause;
  }
  const message = error instanceof Error ? error.message : String(error);
  return codes.length > 0 ? `${message} (${codes.join(', ')})` : message;
}

/**
 * Wraps `fetch` so that each exchange is reported to `sink`, redacted (see {@link TraceExchange}). The
 * response body is read from `response.clone()` (at most `maxBodyBytes`) before the response is
 * returned, so the caller still reads the whole body and the sink sees exchanges in order.
 *
 * @example
 * ```ts
 * const client = new ClientCredentialsClient({ ...options, fetch: traceFetch(fetch, (x) => console.error(x)) });
 * ```
 */
export function traceFetch(fetch: typeof globalThis.fetch, sink: TraceSink, options: TraceFetchOptions = {}): typeof globalThis.fetch {
  const limit = options.maxBodyBytes ?? DEFAULT_MAX_BODY_BYTES;
  const report = (exchange: TraceExchange) => {
    try {
      sink(exchange);
    } catch {
      // The trace must never break the request.
    }
  };
  return async (input, init) => {
    const request = input instanceof Request ? input : undefined;
    const method = (init?.method ?? request?.method ?? 'GET').toUpperCase();
    const url = redactUrl(request?.url ?? String(input));
    const headers = new Headers(request?.headers);
    new Headers(init?.headers).forEach((value, name) => {
      headers.set(name, value);
    });
    const rawBody = requestBodyText(init?.body);
    const requestBody =
      rawBody !== undefined
        ? redactBody(rawBody, headers.get('content-type'))
        : init?.body != null || request?.body != null
          ? '[body of a stream, Blob or Request: not shown]'
          : undefined;
    const requestHeaders = redactHeaders(headers);
    const started = performance.now();
    let response: Response;
    try {
      response = await fetch(input, init);
    } catch (error) {
      report({
        method,
        url,
        status: undefined,
        durationMs: Math.round(performance.now() - started),
        requestHeaders,
        requestBody,
        responseHeaders: {},
        responseBody: undefined,
        error: describeFailure(error),
      });
      throw error;
    }
    const durationMs = Math.round(performance.now() - started);
    let responseBody: string | undefined;
    if (response.body !== null) {
      try {
        const { text, truncated } = await readBounded(response.clone().body!, limit);
        responseBody = redactBody(text, response.headers.get('content-type'), truncated);
      } catch (error) {
        responseBody = `[body could not be read: ${describeFailure(error)}]`;
      }
    }
    report({
      method,
      url,
      status: response.status,
      durationMs,
      requestHeaders,
      requestBody,
      responseHeaders: redactHeaders(response.headers),
      responseBody,
    });
    return response;
  };
}
